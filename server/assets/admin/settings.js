// Settings: one form per group, each field drawn by its kind (pickers filled from Jira,
// numbers with their ranges, lists, switches), saved per form with inline errors.
import { h, replace, uid, message } from './dom.js';

const SOURCE_PATH = {
  projects: 'projects',
  issue_types: 'issue-types',
  priorities: 'priorities',
  resolutions: 'resolutions',
  statuses: 'statuses',
};

function splitList(v) {
  return (v || '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** One field: its control, its help and its error slot. `get()` reads the value to save. */
function fieldControl(app, f, form, values) {
  const id = uid(f.key.replace(/[^a-z0-9]/gi, '-'));
  const helpId = `${id}-help`;
  const errId = `${id}-error`;
  const error = h('p', { id: errId, class: 'field-error', hidden: true });
  const help = h('p', { id: helpId, class: 'help' }, f.help, f.default ? ` Default: ${f.default}.` : '');
  const value = f.value ?? '';
  const kind = f.kind;
  let control;
  let get;
  let wrap;
  const describe = { 'aria-describedby': helpId };
  if (kind.type === 'bool') {
    // ticket.auto unset means "on when a project is set": show what is in effect, and only
    // store it once the admin changes it.
    const implicit = f.value === null || f.value === undefined;
    const effective = implicit
      ? (f.key === 'ticket.auto' ? Boolean(values['ticket.project']) : f.default === 'true')
      : f.value === 'true';
    control = h('input', { id, type: 'checkbox', name: f.key, checked: effective, ...describe });
    get = () => (implicit && !control.dataset.touched ? null : (control.checked ? 'true' : 'false'));
    control.addEventListener('change', () => { control.dataset.touched = 'true'; });
    wrap = h('div', { class: 'field field-check', dataset: { key: f.key } }, control, h('label', { for: id }, f.label), help, error);
  } else if (kind.type === 'choice' || kind.type === 'template') {
    const options = kind.type === 'choice' ? kind.options : [{ value: 'full', label: 'Full' }, { value: 'limited', label: 'Limited' }, { value: '__custom', label: 'Custom template' }];
    const isCustom = kind.type === 'template' && value && value !== 'full' && value !== 'limited';
    control = h('select', { id, name: f.key, ...describe },
      h('option', { value: '' }, `Default${f.default ? ` (${f.default})` : ''}`),
      options.map((o) => h('option', { value: o.value, selected: isCustom ? o.value === '__custom' : o.value === value }, o.label)));
    let textarea = null;
    if (kind.type === 'template') {
      const tid = `${id}-text`;
      textarea = h('textarea', { id: tid, rows: '6', class: 'mono', value: isCustom ? value : '', hidden: !isCustom, 'aria-label': `${f.label}: custom template` });
      control.addEventListener('change', () => { textarea.hidden = control.value !== '__custom'; });
    }
    get = () => (control.value === '__custom' ? textarea.value : control.value);
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, textarea, help, error);
  } else if (kind.type === 'integer' || kind.type === 'number') {
    control = h('input', {
      id, name: f.key, type: 'number', value, min: kind.min, max: kind.max,
      step: kind.type === 'integer' ? '1' : 'any', placeholder: f.default || '', ...describe,
    });
    get = () => control.value;
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, help, error);
  } else if (kind.type === 'jira') {
    const fallback = h('input', { id, name: f.key, type: 'text', value, placeholder: f.default || '', ...describe });
    control = fallback;
    get = () => control.value;
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, help, error);
    if (kind.multiple) {
      const current = new Set(splitList(value));
      const legendId = `${id}-legend`;
      const box = h('fieldset', { class: 'checks', 'aria-describedby': helpId },
        h('legend', { id: legendId }, f.label), h('p', { class: 'loading' }, 'Loading from Jira…'));
      wrap = h('div', { class: 'field', dataset: { key: f.key } }, box, help, error);
      control = box;
      get = () => [...box.querySelectorAll('input[type=checkbox]')].filter((c) => c.checked).map((c) => c.value).join(',');
      loadChoices(app, kind.source, null).then((choices) => {
        const known = new Set(choices.map((c) => c.value));
        const extra = [...current].filter((v) => !known.has(v)).map((v) => ({ value: v, label: `${v} (not in Jira)` }));
        replace(box, h('legend', { id: legendId }, f.label), [...choices, ...extra].map((c) => {
          const cid = uid('opt');
          return h('div', { class: 'check' },
            h('input', { type: 'checkbox', id: cid, value: c.value, checked: current.has(c.value) }),
            h('label', { for: cid }, c.label, c.detail ? h('span', { class: 'muted' }, ` · ${c.detail}`) : null));
        }));
      }).catch((e) => {
        // Without Jira, a comma-separated list still works.
        const text = h('input', { id, type: 'text', value, 'aria-labelledby': legendId, ...describe });
        replace(box, h('legend', { id: legendId }, f.label), text, h('p', { class: 'help' }, `Jira's list is not available (${e.message}); separate values with commas.`));
        get = () => text.value;
      });
    } else {
      const select = h('select', { id, name: f.key, ...describe }, h('option', { value }, value || `Default${f.default ? ` (${f.default})` : ''}`));
      const toText = (e) => {
        const text = h('input', { id, name: f.key, type: 'text', value, placeholder: f.default || '', ...describe });
        replace(wrap, h('label', { for: id }, f.label), text, help, h('p', { class: 'help' }, `Jira's list is not available (${e.message}); type the value.`), error);
        control = text;
        get = () => text.value;
      };
      const fill = (project) => loadChoices(app, kind.source, project).then((choices) => {
        const keep = select.value;
        replace(select, h('option', { value: '' }, `Default${f.default ? ` (${f.default})` : ''}`),
          choices.map((c) => h('option', { value: c.value, selected: c.value === keep }, c.label)),
          keep && !choices.some((c) => c.value === keep) ? h('option', { value: keep, selected: true }, `${keep} (not in Jira)`) : null);
        select.disabled = false;
        control = select;
        get = () => select.value;
      });
      control = select;
      get = () => select.value;
      replace(wrap, h('label', { for: id }, f.label), select, help, error);
      if (kind.source === 'issue_types') {
        const projectSelect = () => form.querySelector('[name="ticket.project"]');
        const refresh = () => {
          const p = projectSelect() && projectSelect().value;
          if (p) fill(p).catch(toText);
        };
        setTimeout(() => {
          const ps = projectSelect();
          if (ps) ps.addEventListener('change', refresh);
          refresh();
        }, 0);
      } else {
        fill(null).catch(toText);
      }
    }
  } else if (kind.type === 'json') {
    control = h('textarea', { id, name: f.key, rows: '4', class: 'mono', value, ...describe });
    get = () => control.value;
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, help, error);
  } else if (kind.type === 'field_map') {
    control = h('textarea', { id, name: f.key, rows: '5', class: 'mono', value, placeholder: '{"Team": "AppSec", "components": "{{repository}}"}', ...describe });
    get = () => control.value;
    const screenId = `${id}-screen`;
    const screen = h('div', { id: screenId, class: 'create-screen', role: 'region', 'aria-label': 'Fields on the create screen', tabindex: '0' });
    const show = h('button', { type: 'button', class: 'button' }, 'Show the create screen\'s fields');
    show.addEventListener('click', () => {
      const project = (form.querySelector('[name="ticket.project"]') || {}).value || values['ticket.project'];
      const issueType = (form.querySelector('[name="ticket.issue_type"]') || {}).value || values['ticket.issue_type'] || 'Bug';
      if (!project) {
        replace(screen, h('p', { class: 'help' }, 'Choose a project first.'));
        return;
      }
      replace(screen, h('p', { class: 'loading' }, 'Loading from Jira…'));
      app.api.get(`/jira/create-screen?project=${encodeURIComponent(project)}&issue_type=${encodeURIComponent(issueType)}`).then((s) => {
        replace(screen, h('table', { class: 'table' },
          h('caption', {}, `${s.project} / ${s.issue_type}`),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'Required'), h('th', { scope: 'col' }, 'Allowed values'))),
          h('tbody', {}, s.fields.map((x) => h('tr', {},
            h('td', {}, x.name), h('td', { class: 'mono' }, x.id),
            h('td', {}, x.required && !x.has_default ? 'Required' : ''),
            h('td', {}, x.allowed.map((a) => a.label).join(', ')))))));
      }).catch((e) => replace(screen, h('p', { class: 'help' }, `Jira's create screen is not available (${e.message}).`)));
    });
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, help, show, screen, error);
  } else {
    control = h('input', { id, name: f.key, type: 'text', value, placeholder: f.default || '', ...describe });
    get = () => control.value;
    wrap = h('div', { class: 'field', dataset: { key: f.key } }, h('label', { for: id }, f.label), control, help, error);
  }
  return {
    key: f.key,
    wrap,
    get: () => get(),
    showError(msg) {
      error.textContent = msg;
      error.hidden = false;
      const target = wrap.querySelector('input, select, textarea, fieldset');
      if (target) {
        target.setAttribute('aria-invalid', 'true');
        target.setAttribute('aria-describedby', `${helpId} ${errId}`);
      }
      return target;
    },
    clearError() {
      error.hidden = true;
      for (const el of wrap.querySelectorAll('[aria-invalid]')) {
        el.removeAttribute('aria-invalid');
        el.setAttribute('aria-describedby', helpId);
      }
    },
  };
}

const choiceCache = new Map();
function loadChoices(app, source, project) {
  const key = `${source}:${project || ''}`;
  if (!choiceCache.has(key)) {
    const q = project ? `?project=${encodeURIComponent(project)}` : '';
    choiceCache.set(key, app.api.get(`/jira/${SOURCE_PATH[source]}${q}`).then((r) => r.choices).catch((e) => {
      choiceCache.delete(key);
      throw e;
    }));
  }
  return choiceCache.get(key);
}

function groupForm(app, group) {
  const headingId = uid(`group-${group.id}`);
  const status = h('p', { class: 'inline-status', role: 'status' });
  const formError = h('div');
  const form = h('form', { class: 'form settings-form', 'aria-labelledby': headingId, novalidate: true, dataset: { group: group.id } });
  const values = Object.fromEntries(group.fields.map((f) => [f.key, f.value]));
  const fields = group.fields.map((f) => fieldControl(app, f, form, values));
  const save = h('button', { type: 'submit', class: 'button button-primary' }, 'Save', h('span', { class: 'visually-hidden' }, ` ${group.title}`));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    fields.forEach((f) => f.clearError());
    replace(formError);
    const values = {};
    for (const f of fields) {
      const v = f.get();
      if (v !== null && v !== undefined) values[f.key] = v;
    }
    save.disabled = true;
    status.textContent = 'Saving…';
    try {
      await app.api.put(`/settings/${group.id}`, { values });
      status.textContent = 'Saved.';
      app.announce(`${group.title} saved.`);
    } catch (err) {
      status.textContent = '';
      let first = null;
      for (const p of err.fields || []) {
        const field = fields.find((f) => f.key === p.field);
        if (field) {
          const target = field.showError(p.message);
          first = first || target;
        }
      }
      replace(formError, message('error', 'Not saved', (err.fields && err.fields.length) ? 'Correct the fields marked below.' : err.message));
      if (first) first.focus();
    } finally {
      save.disabled = false;
    }
  });
  replace(form, h('h3', { id: headingId }, group.title), h('p', { class: 'muted' }, group.description), formError,
    fields.map((f) => f.wrap), h('div', { class: 'actions' }, save, status));
  return h('section', { class: 'card' }, form);
}

function otherForm(app, other) {
  const status = h('p', { class: 'inline-status', role: 'status' });
  const formError = h('div');
  const rows = h('div', { class: 'kv-rows' });
  const addRow = (k, v, existing) => {
    const kid = uid('other-key');
    const vid = uid('other-value');
    const row = h('div', { class: 'kv-row', dataset: { original: existing ? k : '' } },
      h('div', { class: 'field' }, h('label', { for: kid }, 'Key'), h('input', { id: kid, type: 'text', value: k, readonly: existing, class: 'mono' })),
      h('div', { class: 'field' }, h('label', { for: vid }, 'Value'), h('input', { id: vid, type: 'text', value: v })),
      h('button', { type: 'button', class: 'button', onClick: () => { row.dataset.removed = 'true'; row.hidden = true; } }, 'Remove', h('span', { class: 'visually-hidden' }, ` ${k || 'new setting'}`)));
    rows.appendChild(row);
  };
  Object.entries(other).forEach(([k, v]) => addRow(k, v, true));
  const form = h('form', {
    class: 'form',
    'aria-labelledby': 'other-h',
    onSubmit: async (e) => {
      e.preventDefault();
      const values = {};
      for (const row of rows.querySelectorAll('.kv-row')) {
        const [k, v] = row.querySelectorAll('input');
        if (!k.value.trim()) continue;
        values[k.value.trim()] = row.dataset.removed === 'true' ? '' : v.value;
      }
      replace(formError);
      try {
        await app.api.put('/settings/other', { values });
        status.textContent = 'Saved.';
        app.announce('Other settings saved.');
      } catch (err) {
        replace(formError, message('error', 'Not saved', ...(err.fields && err.fields.length ? err.fields.map((p) => `${p.field}: ${p.message}`) : [err.message])));
      }
    },
  },
  h('h3', { id: 'other-h' }, 'Other settings'),
  h('p', { class: 'muted' }, 'Settings read by your own rules (for example threshold.sast for the auto-ticket rule).'),
  formError, rows,
  h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'button', onClick: () => addRow('', '', false) }, 'Add a setting'),
    h('button', { type: 'submit', class: 'button button-primary' }, 'Save', h('span', { class: 'visually-hidden' }, ' other settings')),
    status));
  return h('section', { class: 'card' }, form);
}

export async function settingsView(app) {
  choiceCache.clear();
  const view = await app.api.get('/settings');
  const toc = h('nav', { class: 'toc', 'aria-label': 'Settings forms' },
    h('ul', {}, view.groups.map((g) => h('li', {}, h('a', { href: `#/settings`, onClick: (e) => { e.preventDefault(); document.querySelector(`[data-group="${g.id}"]`).scrollIntoView(); } }, g.title)))));
  replace(app.main, h('h2', {}, 'Settings'), toc, view.groups.map((g) => groupForm(app, g)), otherForm(app, view.other));
}
