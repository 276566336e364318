// Rules: upload a .wasm (file picker or drag and drop; refusals explained in words), the
// versions of each rule, evaluate one on a real closure or a pasted input (decision, logs,
// usage against every limit), replay it over recent closures, activate / deactivate / roll back.
import { h, replace, uid, table, message, fmtDate, fmtNumber, fmtBytes, lozenge, statusLozenge, confirmDialog } from './dom.js';

function b64(buffer) {
  const bytes = new Uint8Array(buffer);
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function problemBox(err) {
  return message('error', err.code ? `Refused: ${err.code}` : 'That did not work',
    ...(err.explanation ? [err.explanation] : []),
    h('p', { class: 'muted' }, err.message));
}

function uploadSection(app, reload) {
  const fileId = uid('wasm');
  const nameId = uid('rule-name');
  const projectId = uid('rule-project');
  const result = h('div', { 'aria-live': 'polite' });
  const chosen = h('p', { class: 'help', id: `${fileId}-chosen` }, 'No file chosen.');
  let file = null;
  const fileInput = h('input', { id: fileId, type: 'file', accept: '.wasm,application/wasm', 'aria-describedby': `${fileId}-chosen` });
  const nameInput = h('input', { id: nameId, type: 'text', required: true, maxlength: '100', autocomplete: 'off' });
  const projectInput = h('input', { id: projectId, type: 'text', maxlength: '64', placeholder: 'all projects', autocomplete: 'off' });
  const pick = (f) => {
    if (!f) return;
    file = f;
    chosen.textContent = `${f.name} (${fmtBytes(f.size)})`;
    if (!nameInput.value) nameInput.value = f.name.replace(/\.wasm$/i, '').replace(/[^A-Za-z0-9._-]/g, '-');
  };
  fileInput.addEventListener('change', () => pick(fileInput.files[0]));
  const drop = h('div', { class: 'dropzone', role: 'group', 'aria-label': 'Drop a .wasm file here' },
    h('p', {}, 'Drop a .wasm file here, or '),
    h('label', { for: fileId, class: 'button' }, 'choose a file'),
    fileInput, chosen);
  for (const ev of ['dragenter', 'dragover']) {
    drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('dropzone-active'); });
  }
  for (const ev of ['dragleave', 'drop']) {
    drop.addEventListener(ev, () => drop.classList.remove('dropzone-active'));
  }
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    pick(e.dataTransfer.files[0]);
  });
  const submit = h('button', { type: 'submit', class: 'button button-primary' }, 'Upload');
  const form = h('form', {
    class: 'form',
    'aria-labelledby': 'upload-h',
    onSubmit: async (e) => {
      e.preventDefault();
      if (!file) {
        replace(result, message('error', 'Choose a file first', 'Pick or drop the .wasm file of your rule.'));
        return;
      }
      submit.disabled = true;
      replace(result, h('p', { role: 'status' }, 'Validating the rule…'));
      try {
        const module_base64 = b64(await file.arrayBuffer());
        const v = await app.api.post('/rules', { name: nameInput.value.trim(), project: projectInput.value.trim() || null, module_base64 });
        replace(result, message('success', `Uploaded ${v.name} version ${v.version}`,
          `It makes these decisions: ${v.decisions.join(', ')}. It is not active yet: evaluate or replay it below, then activate it.`));
        app.announce(`Uploaded ${v.name} version ${v.version}.`);
        await reload();
      } catch (err) {
        replace(result, problemBox(err));
        app.announce(`Upload refused: ${err.code}.`);
      } finally {
        submit.disabled = false;
      }
    },
  },
  h('h3', { id: 'upload-h' }, 'Upload a rule'),
  drop,
  h('div', { class: 'field' }, h('label', { for: nameId }, 'Rule name'), nameInput,
    h('p', { class: 'help' }, 'Letters, digits, -, _ and .; uploading the same name again adds a version.')),
  h('div', { class: 'field' }, h('label', { for: projectId }, 'Jira project (optional)'), projectInput,
    h('p', { class: 'help' }, 'Scope the rule to one project key; empty for every project.')),
  h('div', { class: 'actions' }, submit),
  result);
  return h('section', { class: 'card' }, form);
}

function usageMeters(u) {
  const rows = [
    ['Instructions', u.fuel_used, u.fuel_limit, fmtNumber],
    ['Memory', u.memory_peak_bytes, u.memory_limit_bytes, fmtBytes],
    ['Time', u.elapsed_us / 1000, u.deadline_ms, (n) => `${Number(n).toFixed(2)} ms`],
    ['Input', u.input_bytes, u.input_limit_bytes, fmtBytes],
    ['Output', u.output_bytes, u.output_limit_bytes, fmtBytes],
    ['Logs', u.log_bytes, u.log_limit_bytes, fmtBytes],
  ];
  return h('div', { class: 'usage' }, rows.map(([label, used, limit, fmt]) => {
    const id = uid('meter');
    const pct = limit ? Math.min(100, (used / limit) * 100) : 0;
    return h('div', { class: 'usage-row' },
      h('label', { for: id }, label),
      h('meter', { id, min: '0', max: String(limit), value: String(used), low: String(limit * 0.5), high: String(limit * 0.8), optimum: '0' }),
      h('span', { class: 'usage-text' }, `${fmt(used)} of ${fmt(limit)} (${pct.toFixed(pct < 1 ? 2 : 0)}%)`));
  }));
}

function describeOutput(output) {
  if (!output) return '—';
  const [decision, body] = Object.entries(output)[0] || [];
  if (typeof body === 'string') return `${decision}: ${body}`;
  const [outcome, detail] = Object.entries(body || {})[0] || [];
  if (outcome === 'apply') return h('span', {}, statusLozenge(detail.status), ` — ${detail.reason} (confidence ${Math.round(detail.confidence * 100)}%)`);
  if (typeof detail === 'string') return `${outcome}: ${detail}`;
  return `${outcome}${detail && detail.reason ? `: ${detail.reason}` : ''}`;
}

async function evaluatePanel(app, rule, version, slot) {
  const decisions = await app.api.get('/decisions?limit=20').catch(() => ({ decisions: [] }));
  const selId = uid('eval-closure');
  const inputId = uid('eval-input');
  const result = h('div', { 'aria-live': 'polite' });
  const source = h('select', { id: selId },
    decisions.decisions.map((d) => h('option', { value: d.id }, `${d.issue_key || d.id} · ${d.verdict || d.outcome} · ${fmtDate(d.decided_at)}`)),
    h('option', { value: '' }, 'Paste an input instead'));
  const pasted = h('textarea', { id: inputId, rows: '8', class: 'mono', placeholder: '{"closure": {"ticket": {…}}}', hidden: decisions.decisions.length > 0 });
  const pastedLabel = h('label', { for: inputId, hidden: decisions.decisions.length > 0 }, 'Rule input (JSON)');
  source.addEventListener('change', () => { pasted.hidden = source.value !== ''; pastedLabel.hidden = pasted.hidden; });
  const run = h('button', { type: 'submit', class: 'button button-primary' }, 'Evaluate');
  const form = h('form', {
    class: 'form',
    'aria-label': `Evaluate ${rule.name} version ${version.version}`,
    onSubmit: async (e) => {
      e.preventDefault();
      let body;
      if (source.value) body = { decision_id: source.value };
      else {
        try { body = { input: JSON.parse(pasted.value) }; } catch (err) {
          replace(result, message('error', 'That is not JSON', err.message));
          return;
        }
      }
      run.disabled = true;
      try {
        const r = await app.api.post(`/rules/${encodeURIComponent(rule.name)}/versions/${version.version}/evaluate`, body);
        replace(result,
          r.error ? problemBox(r.error) : h('p', { class: 'decision' }, h('strong', {}, 'Decision: '), describeOutput(r.output)),
          h('h5', {}, 'Usage'), usageMeters(r.usage),
          h('h5', {}, 'Logs'),
          r.logs.length ? h('ul', { class: 'logs' }, r.logs.map((l) => h('li', {}, h('code', {}, `[${l.level}] ${l.message}`)))) : h('p', { class: 'muted' }, 'The rule logged nothing.'));
        app.announce('Evaluated.');
      } catch (err) {
        replace(result, problemBox(err));
      } finally {
        run.disabled = false;
      }
    },
  },
  h('h4', {}, `Evaluate version ${version.version}`),
  h('div', { class: 'field' }, h('label', { for: selId }, 'A recent closure'), source),
  pastedLabel, pasted,
  h('div', { class: 'actions' }, run, h('button', { type: 'button', class: 'button', onClick: () => replace(slot) }, 'Close')),
  result);
  replace(slot, h('div', { class: 'panel' }, form));
  source.focus();
}

function replayPanel(app, rule, version, slot) {
  const limitId = uid('replay-limit');
  const result = h('div', { 'aria-live': 'polite' });
  const limit = h('input', { id: limitId, type: 'number', min: '1', max: '500', value: '50' });
  const run = h('button', { type: 'submit', class: 'button button-primary' }, 'Replay');
  const form = h('form', {
    class: 'form',
    'aria-label': `Replay ${rule.name} version ${version.version}`,
    onSubmit: async (e) => {
      e.preventDefault();
      run.disabled = true;
      replace(result, h('p', { role: 'status' }, 'Replaying…'));
      try {
        const r = await app.api.post(`/rules/${encodeURIComponent(rule.name)}/versions/${version.version}/replay?limit=${encodeURIComponent(limit.value)}`);
        const verdict = (o) => (o.outcome === 'apply' && o.status ? statusLozenge(o.status) : lozenge(o.outcome, 'default'));
        replace(result,
          h('p', { role: 'status' }, `${r.total} closures: ${r.same} the same, ${r.different} different, ${r.errors} rule errors.`),
          table(`Replay of ${rule.name} version ${version.version}`, ['Ticket', 'Applied', 'Decided by', `${rule.name} v${version.version}`, 'Differs', 'Reason (this rule)'],
            r.items.map((i) => [i.issue_key || i.decision_id, verdict(i.applied), i.applied_by, verdict(i.candidate),
              i.differs ? lozenge('different', 'removed') : lozenge('same', 'success'), i.error || i.candidate.reason || '—']),
            { empty: 'No closure to replay yet.' }));
        app.announce(`Replayed ${r.total} closures.`);
      } catch (err) {
        replace(result, problemBox(err));
      } finally {
        run.disabled = false;
      }
    },
  },
  h('h4', {}, `Replay version ${version.version}`),
  h('div', { class: 'field' }, h('label', { for: limitId }, 'How many of the latest closures (1–500)'), limit),
  h('div', { class: 'actions' }, run, h('button', { type: 'button', class: 'button', onClick: () => replace(slot) }, 'Close')),
  result);
  replace(slot, h('div', { class: 'panel' }, form));
  limit.focus();
}

function ruleCard(app, rule, reload) {
  const slot = h('div');
  const status = h('p', { class: 'inline-status', role: 'status' });
  const change = async (button, question, text, label, call, done) => {
    if (!await confirmDialog(question, text, label)) return;
    button.disabled = true;
    try {
      await call();
      app.announce(done);
      await reload();
    } catch (err) {
      replace(status, problemBox(err));
      button.disabled = false;
    }
  };
  const ruleActions = [];
  if (rule.active_version) {
    const deactivate = h('button', { type: 'button', class: 'button' }, 'Deactivate', h('span', { class: 'visually-hidden' }, ` ${rule.name}`));
    deactivate.addEventListener('click', () => change(deactivate, `Deactivate ${rule.name}?`,
      'No version of it will decide any more; the default policy takes over.', 'Deactivate',
      () => app.api.post(`/rules/${encodeURIComponent(rule.name)}/deactivate`), `${rule.name} deactivated.`));
    ruleActions.push(deactivate);
  }
  if (rule.active_version && rule.versions.some((v) => v.activated_at && v.state !== 'active')) {
    const rollback = h('button', { type: 'button', class: 'button' }, 'Roll back', h('span', { class: 'visually-hidden' }, ` ${rule.name}`));
    rollback.addEventListener('click', () => change(rollback, `Roll back ${rule.name}?`,
      'The version that was active before the current one becomes active again.', 'Roll back',
      () => app.api.post(`/rules/${encodeURIComponent(rule.name)}/rollback`), `${rule.name} rolled back.`));
    ruleActions.push(rollback);
  }
  const rows = rule.versions.map((v) => {
    const buttons = [];
    const evalB = h('button', { type: 'button', class: 'button', onClick: () => evaluatePanel(app, rule, v, slot) }, 'Evaluate', h('span', { class: 'visually-hidden' }, ` version ${v.version}`));
    buttons.push(evalB);
    if (v.decisions.includes('closure')) {
      buttons.push(h('button', { type: 'button', class: 'button', onClick: () => replayPanel(app, rule, v, slot) }, 'Replay', h('span', { class: 'visually-hidden' }, ` version ${v.version}`)));
    }
    if (v.state !== 'active') {
      const activate = h('button', { type: 'button', class: 'button button-primary' }, 'Activate', h('span', { class: 'visually-hidden' }, ` version ${v.version}`));
      activate.addEventListener('click', () => change(activate, `Activate ${rule.name} version ${v.version}?`,
        `From now on it decides ${v.decisions.join(', ')} for ${v.project ? `project ${v.project}` : 'every project'}; its other versions stop.`, 'Activate',
        () => app.api.post(`/rules/${encodeURIComponent(rule.name)}/versions/${v.version}/activate`), `${rule.name} version ${v.version} is active.`));
      buttons.push(activate);
      const del = h('button', { type: 'button', class: 'button button-danger' }, 'Delete', h('span', { class: 'visually-hidden' }, ` version ${v.version}`));
      del.addEventListener('click', () => change(del, `Delete ${rule.name} version ${v.version}?`,
        'The stored module is removed; this cannot be undone.', 'Delete',
        () => app.api.del(`/rules/${encodeURIComponent(rule.name)}/versions/${v.version}`), `${rule.name} version ${v.version} deleted.`));
      buttons.push(del);
    }
    const language = h('span', { title: (v.toolchain || []).join(', ') || 'no toolchain recorded' }, LANGUAGES[v.language] || v.language || 'unknown');
    return [`v${v.version}`, v.state === 'active' ? lozenge('active', 'success') : lozenge('inactive', 'default'), fmtDate(v.created_at),
      language, h('code', { title: v.sha256 }, v.sha256.slice(0, 12)), fmtBytes(v.size_bytes), h('span', { class: 'buttons' }, buttons)];
  });
  return h('section', { class: 'card rule', 'aria-labelledby': `rule-${rule.name}` },
    h('h3', { id: `rule-${rule.name}` }, rule.name),
    h('p', { class: 'muted' }, `Decides ${rule.decisions.join(', ')} · ${rule.project ? `project ${rule.project}` : 'all projects'} · ${rule.active_version ? `version ${rule.active_version} active` : 'not active'}`),
    ruleActions.length ? h('div', { class: 'actions' }, ruleActions) : null,
    status,
    table(`Versions of ${rule.name}`, ['Version', 'State', 'Uploaded', 'Language', 'SHA-256', 'Size', 'Actions'], rows, { hideCaption: true }),
    slot);
}

const LANGUAGES = { rust: 'Rust', javascript: 'JavaScript / TypeScript', python: 'Python', unknown: 'unknown' };

export async function rulesView(app) {
  const list = h('div');
  const reload = async () => {
    const { rules } = await app.api.get('/rules');
    const by = { closure: [], transition: [], ticketing: [] };
    // Each rule once, under the first decision it makes (its card lists all of them).
    for (const r of rules) {
      const d = r.decisions[0] || 'closure';
      (by[d] || (by[d] = [])).push(r);
    }
    const titles = { closure: 'Closure rules (what a closed ticket means)', transition: 'Transition rules (how tickets move)', ticketing: 'Ticketing rules (which findings get a ticket)' };
    replace(list, rules.length ? Object.entries(by).filter(([, rs]) => rs.length).map(([d, rs]) => h('section', { 'aria-labelledby': `rules-${d}` },
      h('h3', { id: `rules-${d}`, class: 'section-title' }, titles[d] || d),
      rs.map((r) => ruleCard(app, r, reload)))) : h('p', { class: 'empty' }, 'No rules yet: the default policy makes every decision.'));
  };
  replace(app.main, h('h2', {}, 'Rules'),
    h('p', {}, 'Rules are WebAssembly modules built with rules-sdk. Without an active rule, Verdict\'s default policy decides.'),
    uploadSection(app, reload), list);
  await reload();
}
