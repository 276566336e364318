// The admin app's read-mostly pages: overview, scanners (API keys), decisions, findings and
// the audit log.
import {
  h, replace, table, message, fmtDate, fmtNumber, statusLozenge, statusLabel, lozenge, uid,
  confirmDialog, copyText,
} from './dom.js';

function link(href, text) {
  return href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, text) : text;
}

function who(d) {
  if (d.source === 'rule') return `rule ${d.rule_name}@${d.rule_version}`;
  if (d.source === 'default_after_error') return `default policy (rule ${d.rule_name}@${d.rule_version} failed: ${d.error_code})`;
  return 'default policy';
}

/** An Atlassian account: its name when Jira told, the id on hover (and when there is no name). */
function person(id, name) {
  if (!id) return '—';
  return name ? h('span', { title: id }, name) : h('code', {}, id);
}

function verdictCell(d) {
  if (d.outcome === 'apply' && d.verdict) return statusLozenge(d.verdict);
  return lozenge(d.outcome || '—', 'default');
}

/** Runs `action` from a button, showing progress and the result in `status`. */
async function act(app, button, status, action, done) {
  button.disabled = true;
  status.textContent = 'Working…';
  try {
    await action();
    status.textContent = done;
    app.announce(done);
    return true;
  } catch (e) {
    status.textContent = `Failed: ${e.message}`;
    app.announce(status.textContent);
    return false;
  } finally {
    button.disabled = false;
  }
}

function decisionRows(list, { details = true } = {}) {
  return list.map((d) => [
    fmtDate(d.decided_at),
    d.issue_key ? h('span', { class: 'nowrap' }, link(d.issue_url, d.issue_key)) : '—',
    verdictCell(d),
    d.reason || '—',
    d.confidence !== null && d.confidence !== undefined ? `${Math.round(d.confidence * 100)}%` : '—',
    who(d),
    person(d.closed_by, d.closed_by_name),
    details ? h('a', { href: `#/decisions/${d.id}` }, 'Details', h('span', { class: 'visually-hidden' }, ` of the decision on ${d.issue_key || d.id}`)) : null,
  ]);
}

const DECISION_HEADERS = ['When', 'Ticket', 'Verdict', 'Reason', 'Confidence', 'Decided by', 'Closed by', ''];

export async function overviewView(app) {
  const o = await app.api.get('/overview');
  const c = o.connection;
  const main = app.main;
  const statusTone = { active: 'success', disabled: 'moved', uninstalled: 'removed' }[c.status] || 'default';
  const retryButton = (kind, id, label) => {
    const status = h('span', { class: 'inline-status', role: 'status' });
    const button = h('button', {
      type: 'button',
      class: 'button',
      onClick: async () => {
        const ok = await act(app, button, status, () => app.api.post(`/${kind}/${encodeURIComponent(id)}/retry`), 'Queued again.');
        if (ok) button.remove();
      },
    }, 'Retry', h('span', { class: 'visually-hidden' }, ` ${label}`));
    return h('span', {}, button, ' ', status);
  };
  replace(main,
    h('h2', {}, 'Overview'),
    h('section', { class: 'card', 'aria-labelledby': 'conn-h' },
      h('h3', { id: 'conn-h' }, 'Connection'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Connection'), h('dd', {}, c.kind),
        h('dt', {}, 'Site'), h('dd', {}, c.display_url ? link(c.display_url, c.display_url) : '—'),
        h('dt', {}, 'Status'), h('dd', {}, lozenge(c.status, statusTone)),
        c.oauth_status ? [h('dt', {}, 'OAuth'), h('dd', {}, c.oauth_status, c.oauth_error ? ` — ${c.oauth_error}` : '')] : null,
        c.forge ? [h('dt', {}, 'Forge app'), h('dd', {}, c.forge.token_valid_until
          ? `installed (version ${c.forge.app_version || '?'}); Verdict can call Jira until ${fmtDate(c.forge.token_valid_until)} — each Forge invocation renews it`
          : h('span', { role: 'status' }, 'No app system token right now: work for Jira waits (nothing is lost) until Forge\'s next invocation brings one, within 5 minutes at the latest.'))] : null,
        c.webhooks !== null && c.webhooks !== undefined ? [h('dt', {}, 'Dynamic webhooks'), h('dd', {}, `${c.webhooks} registered, expire ${fmtDate(c.webhooks_expire_at)}`, c.webhook_error ? ` — ${c.webhook_error}` : '')] : null,
        h('dt', {}, 'Last webhook delivery'), h('dd', {}, fmtDate(c.last_delivery_at)),
        h('dt', {}, 'Installed'), h('dd', {}, fmtDate(c.installed_at)))),
    h('section', { class: 'card', 'aria-labelledby': 'findings-h' },
      h('h3', { id: 'findings-h' }, 'Findings'),
      h('ul', { class: 'stats' }, ['open', 'resolved', 'false_positive', 'accepted_risk'].map((s) => [s, o.findings_by_status[s] || 0]).map(([s, n]) => h('li', {},
        h('span', { class: 'stat-number' }, fmtNumber(n)), h('span', { class: 'stat-label' }, statusLabel(s)))))),
    h('section', { class: 'card', 'aria-labelledby': 'inbox-h' },
      h('h3', { id: 'inbox-h' }, 'Webhook inbox'),
      h('p', {}, `${fmtNumber(o.inbox_depth)} waiting to be processed; ${fmtNumber(o.failed_deliveries_total)} failed.`),
      o.waiting_deliveries_total
        ? table(`Deliveries waiting (${fmtNumber(o.waiting_deliveries_total)}): tried again on their own; nothing else decides them`, ['Received', 'Event', 'Attempts', 'Why it waits'],
          o.waiting_deliveries.map((d) => [fmtDate(d.received_at), d.event, d.attempts, d.error || '—']))
        : null,
      table('Failed webhook deliveries', ['Received', 'Event', 'Attempts', 'Last error', ''],
        o.failed_deliveries.map((d) => [fmtDate(d.received_at), d.event, d.attempts, d.error || '—', retryButton('deliveries', d.id, `the ${d.event} delivery`)]),
        { empty: 'No failed deliveries.' })),
    o.jira_budget ? h('section', { class: 'card', 'aria-labelledby': 'budget-h' },
      h('h3', { id: 'budget-h' }, "Jira's points this hour"),
      h('p', {}, o.jira_budget.tenant_quota != null
        ? `This site has its own pool: ${fmtNumber(o.jira_budget.tenant_remaining)} of ${fmtNumber(o.jira_budget.tenant_quota)} points left until ${fmtDate(o.jira_budget.resets_at)}.`
        : `The app's pool (shared by every site): ${fmtNumber(o.jira_budget.app_used)} of ${fmtNumber(o.jira_budget.app_quota)} points used; it resets ${fmtDate(o.jira_budget.resets_at)}. This site used ${fmtNumber(o.jira_budget.used)}; its exports and updates may use ${fmtNumber(o.jira_budget.tenant_bulk_cap)}, and ${fmtNumber(o.jira_budget.closure_reserve)} are kept for closure write-backs.`),
      o.jira_budget.jobs_waiting_for_budget || o.jira_budget.deferred_bulk || o.jira_budget.deferred_closure
        ? message('warning', null, `${fmtNumber(o.jira_budget.jobs_waiting_for_budget)} outbound job(s) wait for the next hour's points (held back this hour: ${fmtNumber(o.jira_budget.deferred_bulk)} bulk, ${fmtNumber(o.jira_budget.deferred_closure)} closure calls). Nothing is lost: they run after the reset.`)
        : null) : null,
    h('section', { class: 'card', 'aria-labelledby': 'jobs-h' },
      h('h3', { id: 'jobs-h' }, 'Outbound Jira jobs'),
      h('p', {}, `${fmtNumber(o.failed_jobs_total)} failed (dead-lettered).`),
      table('Failed outbound jobs', ['Updated', 'Job', 'Finding', 'Attempts', 'Last error', ''],
        o.failed_jobs.map((j) => [fmtDate(j.updated_at), j.kind, j.finding_id || '—', j.attempts, j.last_error || '—', retryButton('jobs', j.id, `the ${j.kind} job`)]),
        { empty: 'No failed jobs.' })),
    h('section', { class: 'card', 'aria-labelledby': 'latest-h' },
      h('h3', { id: 'latest-h' }, 'Latest decisions'),
      table('Latest closure decisions', DECISION_HEADERS, decisionRows(o.latest_decisions), { empty: 'No ticket has been closed yet.', hideCaption: true }),
      h('p', {}, h('a', { href: '#/decisions' }, 'All decisions'))));
}

export async function scannersView(app) {
  const main = app.main;
  const list = h('div');
  const created = h('div', { 'aria-live': 'polite' });
  const nameId = uid('key-name');
  const nameError = uid('key-name-error');
  const nameInput = h('input', { id: nameId, name: 'name', type: 'text', maxlength: '100', required: true, autocomplete: 'off', 'aria-describedby': `${nameId}-help` });
  const errorSlot = h('p', { id: nameError, class: 'field-error', hidden: true });
  const scopeId = uid('key-scope');
  const scopeSelect = h('select', { id: scopeId, name: 'scope', 'aria-describedby': `${scopeId}-help` },
    h('option', { value: 'scanner', selected: true }, 'Scanner: imports and reads findings'),
    h('option', { value: 'admin' }, 'Admin: also settings, rules, connections, exports'));
  const load = async () => {
    const { keys } = await app.api.get('/api-keys');
    replace(list, table('API keys', ['Name', 'Key starts with', 'Scope', 'Created', 'Status', ''], keys.map((k) => {
      const status = h('span', { class: 'inline-status', role: 'status' });
      const narrow = (k.revoked_at || k.scope !== 'admin') ? null : h('button', {
        type: 'button',
        class: 'button',
        onClick: async () => {
          if (!await confirmDialog('Narrow this key to a scanner key?', `"${k.name}" will keep importing and reading findings, and be refused everything else (settings, rules, connections, exports).`, 'Narrow')) return;
          if (await act(app, narrow, status, () => app.api.patch(`/api-keys/${encodeURIComponent(k.id)}`, { scope: 'scanner' }), 'Narrowed.')) await load();
        },
      }, 'Narrow to scanner', h('span', { class: 'visually-hidden' }, ` ${k.name}`));
      const revoke = k.revoked_at ? null : h('button', {
        type: 'button',
        class: 'button button-danger',
        onClick: async () => {
          if (!await confirmDialog('Revoke this key?', `The scanner using "${k.name}" will be refused from its next request. This cannot be undone.`, 'Revoke')) return;
          if (await act(app, revoke, status, () => app.api.del(`/api-keys/${encodeURIComponent(k.id)}`), 'Revoked.')) await load();
        },
      }, 'Revoke', h('span', { class: 'visually-hidden' }, ` ${k.name}`));
      return [k.name, h('code', {}, `${k.prefix}…`), k.scope === 'admin' ? lozenge('admin', 'moved') : lozenge('scanner', 'default'), fmtDate(k.created_at),
        k.revoked_at ? lozenge(`revoked ${fmtDate(k.revoked_at)}`, 'removed') : lozenge('active', 'success'), h('span', {}, narrow, ' ', revoke, ' ', status)];
    }), { empty: 'No keys yet: create one for each scanner that sends findings.' }));
  };
  const form = h('form', {
    class: 'form inline-form',
    onSubmit: async (e) => {
      e.preventDefault();
      errorSlot.hidden = true;
      nameInput.removeAttribute('aria-invalid');
      try {
        const k = await app.api.post('/api-keys', { name: nameInput.value, scope: scopeSelect.value });
        nameInput.value = '';
        const keyId = uid('new-key');
        const cmdId = uid('new-cmd');
        const copyStatus = h('span', { class: 'inline-status', role: 'status' });
        replace(created, h('section', { class: 'card card-success', 'aria-labelledby': `${keyId}-h` },
          h('h3', { id: `${keyId}-h` }, `Key for ${k.name}`),
          message('warning', null, 'Copy it now: Verdict keeps only a hash and will not show this key again.'),
          h('label', { for: keyId }, 'API key'),
          h('div', { class: 'copy-row' },
            h('input', { id: keyId, type: 'text', readonly: true, value: k.key, class: 'mono', onFocus: (ev) => ev.target.select() }),
            h('button', { type: 'button', class: 'button', onClick: () => copyText(k.key, copyStatus) }, 'Copy key')),
          h('label', { for: cmdId }, 'Import a finding with it'),
          h('div', { class: 'copy-row' },
            h('textarea', { id: cmdId, readonly: true, rows: '3', class: 'mono', value: k.import_command }),
            h('button', { type: 'button', class: 'button', onClick: () => copyText(k.import_command, copyStatus) }, 'Copy command')),
          copyStatus));
        app.announce(`Key created for ${k.name}.`);
        await load();
      } catch (err) {
        errorSlot.textContent = err.fields && err.fields.length ? err.fields[0].message : err.message;
        errorSlot.hidden = false;
        nameInput.setAttribute('aria-invalid', 'true');
        nameInput.setAttribute('aria-describedby', `${nameId}-help ${nameError}`);
        nameInput.focus();
      }
    },
  },
  h('div', { class: 'field' },
    h('label', { for: nameId }, 'Scanner name'),
    nameInput,
    h('p', { class: 'help', id: `${nameId}-help` }, 'What sends findings with this key, e.g. semgrep-ci.'),
    errorSlot),
  h('div', { class: 'field' },
    h('label', { for: scopeId }, 'Scope'),
    scopeSelect,
    h('p', { class: 'help', id: `${scopeId}-help` }, 'A scanner only needs to import and read findings; give admin scope to automation that manages Verdict.')),
  h('button', { type: 'submit', class: 'button button-primary' }, 'Create key'));
  replace(main,
    h('h2', {}, 'Scanners'),
    h('p', {}, 'Each scanner sends its findings with its own API key, so one can be revoked without touching the others.'),
    h('section', { class: 'card', 'aria-label': 'Create a key' }, form),
    created,
    list);
  await load();
}

const FILTER_SELECTS = {
  verdict: [['', 'Any verdict'], ['resolved', 'Resolved'], ['false_positive', 'False positive'], ['accepted_risk', 'Accepted risk']],
  outcome: [['', 'Any outcome'], ['apply', 'Applied'], ['skip', 'Skipped']],
  source: [['', 'Anyone'], ['rule', 'A rule'], ['default', 'Default policy'], ['default_after_error', 'Default after a rule error']],
};

function select(name, label, options, value) {
  const id = uid(name);
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    h('select', { id, name }, options.map(([v, l]) => h('option', { value: v, selected: v === (value || '') }, l))));
}

function textFilter(name, label, value, attrs = {}) {
  const id = uid(name);
  return h('div', { class: 'field' }, h('label', { for: id }, label), h('input', { id, name, type: 'text', value: value || '', ...attrs }));
}

function formParams(form) {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== '') params.append(k, String(v).trim());
  return params;
}

export async function decisionsView(app) {
  const main = app.main;
  const results = h('div');
  const more = h('div');
  let rows = [];
  let cursor = null;
  let query = new URLSearchParams();
  const load = async (append) => {
    const params = new URLSearchParams(query);
    params.set('limit', '50');
    if (append && cursor) params.set('cursor', cursor);
    const page = await app.api.get(`/decisions?${params}`);
    rows = append ? rows.concat(page.decisions) : page.decisions;
    cursor = page.next_cursor;
    replace(results, table('Closure decisions', DECISION_HEADERS, decisionRows(rows), { empty: 'No decision matches.' }));
    replace(more, cursor ? h('button', { type: 'button', class: 'button', onClick: () => load(true) }, 'Load more') : null);
  };
  const form = h('form', {
    class: 'form filters',
    'aria-label': 'Filter decisions',
    onSubmit: async (e) => { e.preventDefault(); query = formParams(form); await load(false); },
  },
  select('verdict', 'Verdict', FILTER_SELECTS.verdict),
  select('outcome', 'Outcome', FILTER_SELECTS.outcome),
  select('source', 'Decided by', FILTER_SELECTS.source),
  textFilter('issue', 'Ticket', '', { placeholder: 'e.g. SEC-12' }),
  h('button', { type: 'submit', class: 'button' }, 'Filter'));
  replace(main, h('h2', {}, 'Decisions'),
    h('p', {}, 'What each closed ticket was taken to mean, who decided and why.'),
    form, results, more);
  await load(false);
}

export async function decisionView(app, id) {
  const d = await app.api.get(`/decisions/${encodeURIComponent(id)}`);
  replace(app.main,
    h('p', {}, h('a', { href: '#/decisions' }, '← All decisions')),
    h('h2', {}, `Decision on ${d.issue_key || d.id}`),
    h('dl', { class: 'facts card' },
      h('dt', {}, 'Ticket'), h('dd', {}, d.issue_key ? link(d.issue_url, d.issue_key) : '—'),
      h('dt', {}, 'Finding'), h('dd', {}, d.finding_id || '—'),
      h('dt', {}, 'Verdict'), h('dd', {}, verdictCell(d)),
      h('dt', {}, 'Reason'), h('dd', {}, d.reason || '—'),
      h('dt', {}, 'Confidence'), h('dd', {}, d.confidence !== null && d.confidence !== undefined ? `${Math.round(d.confidence * 100)}%` : '—'),
      h('dt', {}, 'Decided by'), h('dd', {}, who(d)),
      d.error_message ? [h('dt', {}, 'Rule error'), h('dd', {}, d.error_message)] : null,
      d.notes && d.notes.length ? [h('dt', {}, 'Left out'), h('dd', {}, d.notes.join(' '))] : null,
      h('dt', {}, 'Closed by'), h('dd', {}, person(d.closed_by, d.closed_by_name)),
      h('dt', {}, 'When'), h('dd', {}, fmtDate(d.decided_at))),
    h('h3', {}, 'What was decided'),
    h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Decision output' }, JSON.stringify(d.output, null, 2)),
    h('h3', {}, 'What the rule saw'),
    h('p', {}, 'The full rule input: the ticket, its comments (secrets masked), the finding, the Confluence pages and the settings.'),
    h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Rule input' }, JSON.stringify(d.input, null, 2)));
}

export async function findingsView(app) {
  const main = app.main;
  const results = h('div');
  // One finding's notes and its ticket's Jira comments, with a form to add a note.
  const notesPanel = h('div');
  const showNotes = async (f) => {
    const headingId = uid('notes-h');
    const textId = uid('note');
    const list = h('div', {}, h('p', { class: 'loading' }, 'Loading…'));
    const noteStatus = h('p', { class: 'inline-status', role: 'status' });
    const text = h('textarea', { id: textId, rows: '3', 'aria-describedby': `${textId}-help` });
    const add = h('button', { type: 'submit', class: 'button button-primary' }, 'Add note');
    const path = `/findings/${encodeURIComponent(f.id)}/notes`;
    const load = async () => {
      const r = await app.api.get(path);
      replace(list, r.notes.length
        ? h('ul', { class: 'notes' }, r.notes.map((n) => h('li', {},
          h('p', { class: 'muted' }, `${n.source === 'jira' ? 'Jira comment' : 'Note'} · ${n.author} · ${new Date(n.created_at).toLocaleString()}`),
          h('p', {}, n.body))))
        : h('p', { class: 'empty' }, 'No notes or Jira comments yet.'));
    };
    const form = h('form', {
      class: 'form',
      onSubmit: async (e) => {
        e.preventDefault();
        if (await act(app, add, noteStatus, () => app.api.post(path, { body: text.value }), 'Note added.')) {
          text.value = '';
          await load();
        }
      },
    },
    h('div', { class: 'field' },
      h('label', { for: textId }, 'New note'),
      text,
      h('p', { class: 'help', id: `${textId}-help` }, 'Kept on the finding and sent to its ticket as a [Verdict] comment (never read as a closure decision). Secrets are masked.')),
    h('div', { class: 'actions' }, add, noteStatus));
    replace(notesPanel, h('section', { class: 'card', 'aria-labelledby': headingId },
      h('h3', { id: headingId, tabindex: '-1' }, `Notes on ${f.title}`), list, form));
    await load();
    notesPanel.querySelector('h3').focus();
  };
  const more = h('div');
  const status = h('p', { class: 'inline-status', role: 'status' });
  const selected = new Set();
  let rows = [];
  let cursor = null;
  let query = new URLSearchParams();
  const exportSelected = h('button', {
    type: 'button',
    class: 'button button-primary',
    disabled: true,
    onClick: async () => {
      const ids = [...selected];
      await act(app, exportSelected, status, () => app.api.post('/findings:export', { ids }),
        `Queued ${ids.length} for export to Jira.`);
      selected.clear();
      updateExport();
      await load(false);
    },
  }, 'Export selected');
  const updateExport = () => {
    exportSelected.disabled = selected.size === 0;
    exportSelected.textContent = selected.size ? `Export selected (${selected.size})` : 'Export selected';
  };
  const render = () => {
    replace(results, table('Findings', ['', 'Title', 'Severity', 'Status', 'Score', 'Scan type', 'Jira', ''], rows.map((f) => {
      const id = uid('pick');
      const rowStatus = h('span', { class: 'inline-status', role: 'status' });
      const exportOne = f.jira ? null : h('button', {
        type: 'button',
        class: 'button',
        onClick: async () => {
          if (await act(app, exportOne, rowStatus, () => app.api.post('/findings:export', { ids: [f.id] }), 'Queued.')) exportOne.remove();
        },
      }, 'Export', h('span', { class: 'visually-hidden' }, ` ${f.title}`));
      // A linked finding's ticket can be sent its summary, description and priority again.
      const pushOne = f.jira ? h('button', {
        type: 'button',
        class: 'button',
        onClick: async () => { await act(app, pushOne, rowStatus, () => app.api.post(`/findings/${encodeURIComponent(f.id)}/push`, {}), 'Re-push queued.'); },
      }, 'Re-push', h('span', { class: 'visually-hidden' }, ` ${f.title}`)) : null;
      const notesOne = h('button', { type: 'button', class: 'button', onClick: () => showNotes(f) },
        'Notes', h('span', { class: 'visually-hidden' }, ` ${f.title}`));
      return [
        f.jira ? null : h('span', {}, h('input', {
          type: 'checkbox', id, checked: selected.has(f.id),
          onChange: (e) => { if (e.target.checked) selected.add(f.id); else selected.delete(f.id); updateExport(); },
        }), h('label', { for: id, class: 'visually-hidden' }, `Select ${f.title}`)),
        f.title,
        f.severity,
        statusLozenge(f.status),
        f.score ?? '—',
        f.scan_type || '—',
        f.jira ? link(`${f.jira.site}/browse/${f.jira.issue_key}`, f.jira.issue_key) : '—',
        h('span', {}, exportOne, pushOne, notesOne, ' ', rowStatus),
      ];
    }), { empty: 'No finding matches.' }));
    replace(more, cursor ? h('button', { type: 'button', class: 'button', onClick: () => load(true) }, 'Load more') : null);
  };
  const load = async (append) => {
    const params = new URLSearchParams(query);
    params.set('limit', '50');
    if (append && cursor) params.set('cursor', cursor);
    const page = await app.api.get(`/findings?${params}`);
    rows = append ? rows.concat(page.findings) : page.findings;
    cursor = page.next_cursor;
    render();
  };
  const form = h('form', {
    class: 'form filters',
    'aria-label': 'Filter findings',
    onSubmit: async (e) => {
      e.preventDefault();
      query = formParams(form);
      // The API takes an RFC 3339 time; a date means from its start (UTC).
      if (query.has('updated_since')) query.set('updated_since', `${query.get('updated_since')}T00:00:00Z`);
      selected.clear();
      updateExport();
      await load(false);
    },
  },
  select('status', 'Status', [['', 'Any status'], ['open', 'Open'], ['resolved', 'Resolved'], ['false_positive', 'False positive'], ['accepted_risk', 'Accepted risk']]),
  select('severity', 'Severity', [['', 'Any severity'], ['critical', 'Critical'], ['high', 'High'], ['medium', 'Medium'], ['low', 'Low'], ['info', 'Info'], ['critical,high', 'High or critical']]),
  textFilter('min_score', 'Minimum score', '', { inputmode: 'decimal' }),
  textFilter('max_score', 'Maximum score', '', { inputmode: 'decimal' }),
  textFilter('scan_type', 'Scan type', ''),
  textFilter('repository', 'Repository', ''),
  select('has_jira_link', 'In Jira', [['', 'Either'], ['true', 'Has a ticket'], ['false', 'No ticket']]),
  (() => {
    const id = uid('updated-since');
    return h('div', { class: 'field' }, h('label', { for: id }, 'Updated since'), h('input', { id, name: 'updated_since', type: 'date' }));
  })(),
  h('button', { type: 'submit', class: 'button' }, 'Filter'));
  replace(main, h('h2', {}, 'Findings'), form, h('div', { class: 'toolbar' }, exportSelected, status), results, more, notesPanel);
  await load(false);
}

export async function auditView(app) {
  const main = app.main;
  const results = h('div');
  const more = h('div');
  let rows = [];
  const load = async (before) => {
    const params = new URLSearchParams({ limit: '50' });
    if (before) params.set('before', before);
    const { entries } = await app.api.get(`/audit?${params}`);
    rows = before ? rows.concat(entries) : entries;
    const summary = (v) => (v === null || v === undefined ? '—' : h('code', { class: 'json' }, JSON.stringify(v)));
    replace(results, table('Admin changes', ['When', 'Who', 'Through', 'Change', 'Target', 'Before', 'After'],
      rows.map((e) => [fmtDate(e.at), e.actor_kind === 'operator' ? 'operator' : person(e.actor_id, e.actor_name), e.via, e.action, e.target || '—', summary(e.old_value), summary(e.new_value)]),
      { empty: 'No admin change yet.' }));
    replace(more, entries.length === 50 ? h('button', { type: 'button', class: 'button', onClick: () => load(rows[rows.length - 1].id) }, 'Load more') : null);
  };
  replace(main, h('h2', {}, 'Audit log'), h('p', {}, 'Every change made here: who, through which door, and the value before and after.'), results, more);
  await load(null);
}
