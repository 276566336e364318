// Verdict's own /admin for the operator: the session cookie authenticates, the CSRF token from
// the page goes with every change, and the operator picks the tenant to administer.
import { start } from './app.js';
import { h, replace, message } from './dom.js';

const root = document.getElementById('app');
const csrf = root.dataset.csrf;
const base = root.dataset.base || '';
const TENANT_KEY = 'verdict.admin.tenant';
let tenant = sessionStorage.getItem(TENANT_KEY) || '';

async function request(method, path, body) {
  const headers = { 'X-CSRF-Token': csrf, Accept: 'application/json' };
  if (tenant) headers['X-Verdict-Tenant'] = tenant;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { error: { code: 'bad_answer', message: text.slice(0, 200) } }; }
  return { status: res.status, body: parsed };
}

const dark = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)');
const applyTheme = () => document.documentElement.setAttribute('data-color-mode', dark && dark.matches ? 'dark' : 'light');
applyTheme();
if (dark && dark.addEventListener) dark.addEventListener('change', applyTheme);

/** The tenant picker and sign-out; resolves true once a tenant is chosen. */
async function setupOperator(app) {
  const res = await request('GET', '/api/admin/v1/tenants');
  if (res.status === 401) { window.location.reload(); return false; }
  if (res.status >= 400) {
    replace(app.main, message('error', 'Cannot list tenants', (res.body && res.body.error && res.body.error.message) || `HTTP ${res.status}`));
    return false;
  }
  const tenants = res.body.tenants;
  const signOut = h('form', { method: 'post', action: `${base}/admin/logout`, class: 'signout' },
    h('input', { type: 'hidden', name: 'csrf', value: csrf }),
    h('button', { type: 'submit', class: 'button' }, 'Sign out'));
  const picker = h('select', {
    id: 'tenant-picker',
    onChange: () => {
      tenant = picker.value;
      sessionStorage.setItem(TENANT_KEY, tenant);
      window.location.hash = '#/overview';
      window.location.reload();
    },
  },
  h('option', { value: '' }, 'Choose a tenant…'),
  tenants.map((t) => h('option', { value: t.id, selected: t.id === tenant }, `${t.name} · ${t.kind}${t.display_url ? ` · ${t.display_url}` : ''}`)));
  replace(app.tools, h('div', { class: 'field field-inline' }, h('label', { for: 'tenant-picker' }, 'Tenant'), picker), signOut);
  if (!tenants.some((t) => t.id === tenant)) {
    tenant = '';
    replace(app.main, h('h2', {}, 'Choose a tenant'),
      tenants.length
        ? h('p', {}, 'Pick the Jira site or connection to administer with the Tenant menu above.')
        : message('info', 'No tenants yet', 'Install Verdict in Jira, or create one with `verdict tenant add NAME`.'));
    return false;
  }
  return true;
}

start({
  root,
  mode: 'standalone',
  context: 'Operator',
  transport: { request },
  setupOperator,
  reload: () => window.location.reload(),
});
