// Inside Jira as a Forge Custom UI (jira:adminPage): Verdict is the remote `verdict`, and
// requestRemote sends each call with a Forge Invocation Token that Verdict verifies. Whether
// the user may administer is decided by Verdict, never by view.getContext().
import { requestRemote, view } from '@forge/bridge';
import { start } from '../../server/assets/admin/app.js';

const root = document.getElementById('app');

async function request(method, path, body) {
  const res = await requestRemote('verdict', {
    path,
    method,
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = { error: { code: 'bad_answer', message: text.slice(0, 200) } }; }
  return { status: res.status, body: parsed };
}

view.theme.enable().catch(() => {});

start({
  root,
  mode: 'forge',
  transport: { request },
  reload: () => window.location.reload(),
});
