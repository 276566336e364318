// Inside Jira (Connect, or Connect on Forge): Connect's all.js is loaded before this module.
// Every call to Verdict carries a fresh context token from AP.context.getToken().
import { start } from './app.js';

const AP = window.AP;
const root = document.getElementById('app');

function contextToken() {
  return new Promise((resolve, reject) => {
    if (!AP || !AP.context || typeof AP.context.getToken !== 'function') {
      reject(new Error('Connect\'s JavaScript API is not available: open Verdict from Jira'));
      return;
    }
    const maybe = AP.context.getToken((token) => resolve(token));
    if (maybe && typeof maybe.then === 'function') maybe.then(resolve, reject);
  });
}

async function request(method, path, body) {
  const token = await contextToken();
  const base = root.dataset.base || '';
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `JWT ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit',
  });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { error: { code: 'bad_answer', message: text.slice(0, 200) } }; }
  return { status: res.status, body: parsed };
}

if (AP && AP.theming && typeof AP.theming.initializeTheming === 'function') AP.theming.initializeTheming();

start({
  root,
  mode: 'connect',
  context: root.dataset.context,
  transport: { request },
  reload: () => (AP && AP.navigator && typeof AP.navigator.reload === 'function' ? AP.navigator.reload() : window.location.reload()),
  resize: () => { if (AP && typeof AP.resize === 'function') AP.resize(); },
});
