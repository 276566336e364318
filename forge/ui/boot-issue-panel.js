// Jira's issue view, as a Forge Custom UI (jira:issuePanel): the findings Verdict links to this
// issue, their status and the last decision with its reason and evidence. Verdict decides what
// the panel may show from the invocation token Forge sends with requestRemote (the issue Forge
// rendered the panel on); nothing is taken from view.getContext().
import { requestRemote, view } from '@forge/bridge';
import { h, replace, statusLozenge, lozenge, fmtDate } from '../../server/assets/admin/dom.js';

const root = document.getElementById('panel');

const SEVERITY_TONE = { critical: 'removed', high: 'removed', medium: 'moved', low: 'default', info: 'default' };
const VERDICT_LABEL = { resolved: 'Resolved', false_positive: 'False positive', accepted_risk: 'Accepted risk' };

function decisionView(d) {
  const verdict = d.outcome === 'apply' && d.verdict
    ? `${VERDICT_LABEL[d.verdict] || d.verdict}`
    : 'No change (the comments did not settle it)';
  return h('section', { class: 'decision', 'aria-label': 'Last decision' },
    h('p', {}, h('strong', {}, 'Last decision: '), verdict,
      d.confidence !== null && d.confidence !== undefined ? ` (confidence ${Number(d.confidence).toFixed(2)})` : ''),
    d.reason ? h('p', {}, h('strong', {}, 'Why: '), d.reason) : null,
    h('p', { class: 'meta' }, `Decided ${fmtDate(d.decided_at)} by ${d.decided_by}`,
      d.resolution ? ` · resolution ${d.resolution}` : ''),
    d.comments.length
      ? h('div', {}, h('p', {}, h('strong', {}, 'Evidence read:')),
        d.comments.map((c) => h('blockquote', {}, c.excerpt)))
      : null,
    d.pages.length
      ? h('ul', { 'aria-label': 'Confluence pages the comments link' },
        d.pages.map((url) => h('li', {}, h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, url))))
      : null);
}

function findingView(f) {
  return h('article', { class: 'finding', 'aria-label': f.title },
    h('h2', {}, f.title),
    h('p', { class: 'meta' },
      statusLozenge(f.status),
      lozenge(f.severity, SEVERITY_TONE[f.severity]),
      f.scan_type ? h('span', {}, f.scan_type.toUpperCase()) : null,
      f.cvss_score !== null && f.cvss_score !== undefined ? h('span', {}, `CVSS ${f.cvss_score}`) : null),
    f.location ? h('p', { class: 'location' }, f.location) : null,
    h('p', { class: 'meta' }, `First seen ${fmtDate(f.first_seen_at)} · updated ${fmtDate(f.updated_at)}`),
    f.last_decision ? decisionView(f.last_decision) : null);
}

async function load() {
  let res;
  try {
    res = await requestRemote('verdict', { path: '/forge/issue-panel', method: 'POST', headers: { Accept: 'application/json' } });
  } catch (e) {
    replace(root, h('div', { class: 'message message-error', role: 'alert' }, `Verdict could not be reached: ${e}`));
    return;
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (res.status !== 200 || !body) {
    const why = body && body.error ? body.error.message : `HTTP ${res.status}`;
    replace(root, h('div', { class: 'message message-error', role: 'alert' }, `Verdict could not show this issue's findings: ${why}`));
    return;
  }
  if (!body.findings.length) {
    replace(root, h('p', { class: 'empty' }, 'No security finding is linked to this issue.'));
    return;
  }
  replace(root,
    h('h1', { class: 'visually-hidden', id: 'panel-title' }, 'Security findings on this issue'),
    h('p', { class: 'visually-hidden', role: 'status' },
      `${body.findings.length} finding${body.findings.length === 1 ? '' : 's'} linked to this issue`),
    body.findings.map(findingView));
}

view.theme.enable().catch(() => {});
load();
