// The Verdict admin app: one page, the same code inside Jira (Connect), inside Forge and on
// Verdict's own /admin. Only the transport differs: each boot file hands `start` a function
// that sends a request to Verdict's admin API with its own credentials.
import { h, replace, message } from './dom.js';
import { overviewView, scannersView, decisionsView, decisionView, findingsView, auditView } from './views.js';
import { settingsView } from './settings.js';
import { rulesView } from './rules.js';

/** An error answer from the admin API. */
export class ApiProblem extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `the server answered ${status}`);
    this.status = status;
    this.code = err.code || 'error';
    this.fields = err.fields || [];
    this.explanation = err.explanation || null;
  }
}

function client(transport) {
  const call = async (method, path, body) => {
    let res;
    try {
      res = await transport.request(method, `/api/admin/v1${path}`, body);
    } catch (e) {
      throw new ApiProblem(0, { error: { code: 'unreachable', message: `Verdict could not be reached (${e.message || e}).` } });
    }
    if (res.status >= 400) throw new ApiProblem(res.status, res.body);
    return res.body;
  };
  return {
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b === undefined ? {} : b),
    put: (p, b) => call('PUT', p, b),
    patch: (p, b) => call('PATCH', p, b),
    del: (p) => call('DELETE', p),
  };
}

const ROUTES = [
  ['overview', 'Overview'],
  ['scanners', 'Scanners'],
  ['settings', 'Settings'],
  ['rules', 'Rules'],
  ['decisions', 'Decisions'],
  ['findings', 'Findings'],
  ['audit', 'Audit log'],
];

/** Whole-app refusals (not signed in to Jira as an admin, an expired session). */
export function renderRefusal(app, problem) {
  const main = app.main;
  if (problem.code === 'token_expired' || problem.code === 'session_expired') {
    replace(main,
      h('h2', { tabindex: '-1' }, 'Your session has expired'),
      message('warning', null,
        problem.code === 'token_expired'
          ? 'Jira\'s sign-in for this page has run out. Refresh the page to continue.'
          : 'Your admin session has ended. Sign in again.'),
      h('p', {}, h('button', { type: 'button', class: 'button button-primary', onClick: () => app.env.reload() },
        problem.code === 'token_expired' ? 'Refresh the page' : 'Sign in again')));
    return true;
  }
  if (problem.code === 'not_jira_admin') {
    replace(main,
      h('h2', { tabindex: '-1' }, 'Verdict is administered by Jira administrators'),
      message('warning', null, problem.message,
        'Ask a Jira administrator of this site for access, or to make the change for you.'));
    return true;
  }
  return false;
}

/** Shows an API problem where it happened (or the whole-app refusal). */
export function showProblem(app, where, problem) {
  if (renderRefusal(app, problem)) return;
  const body = [problem.message];
  if (problem.explanation) body.push(problem.explanation);
  replace(where, message('error', 'That did not work', ...body));
}

function shell(env) {
  const root = env.root;
  const nav = h('nav', { class: 'app-nav', 'aria-label': 'Verdict administration' },
    h('ul', {}, ROUTES.map(([id, label]) => h('li', {}, h('a', { href: `#/${id}`, dataset: { route: id } }, label)))));
  const context = h('p', { class: 'app-context' }, env.context || '');
  const tools = h('div', { class: 'app-tools' });
  const main = h('main', { id: 'main', class: 'app-main', tabindex: '-1' });
  replace(root,
    h('a', { class: 'skip-link', href: '#main', onClick: (e) => { e.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('header', { class: 'app-header' },
      h('div', {}, h('h1', { class: 'app-title' }, 'Verdict'), context),
      tools),
    nav,
    main,
    h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', id: 'announcer' }));
  return { nav, main, tools, context };
}

function currentRoute() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [route, ...rest] = hash.split('/');
  return { route: ROUTES.some(([id]) => id === route) ? route : 'overview', arg: rest.join('/') || null };
}

/** Starts the app in `env.root` with `env.transport`. */
export async function start(env) {
  const parts = shell(env);
  const app = { env, api: client(env.transport), ...parts, me: null };
  app.announce = (text) => { document.getElementById('announcer').textContent = text; };
  if (env.mode === 'standalone' && env.setupOperator) {
    const ready = await env.setupOperator(app);
    if (!ready) return;
  }
  try {
    app.me = await app.api.get('/me');
  } catch (e) {
    if (e instanceof ApiProblem) {
      showProblem(app, app.main, e);
      return;
    }
    throw e;
  }
  if (!env.context) {
    const t = app.me.tenant;
    app.context.textContent = `${t.name}${t.display_url ? ` · ${t.display_url}` : ''}`;
  }
  const render = async () => {
    const { route, arg } = currentRoute();
    for (const a of app.nav.querySelectorAll('a')) {
      if (a.dataset.route === route) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    replace(app.main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const views = {
      overview: overviewView,
      scanners: scannersView,
      settings: settingsView,
      rules: rulesView,
      decisions: arg ? (a) => decisionView(a, arg) : decisionsView,
      findings: findingsView,
      audit: auditView,
    };
    try {
      await views[route](app, arg);
    } catch (e) {
      if (e instanceof ApiProblem) showProblem(app, app.main, e);
      else replace(app.main, message('error', 'Something went wrong', String(e && e.message ? e.message : e)));
    }
    const heading = app.main.querySelector('h2');
    if (heading && app.routed) {
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
    app.routed = true;
    if (env.resize) env.resize();
  };
  app.rerender = render;
  window.addEventListener('hashchange', render);
  await render();
}
