// Shared by the browser tests: start the world (Jira double + Verdict, from the
// `verdict-world` binary), start Debian's Chromium through playwright-core, check a page with
// axe-core, save screenshots, and act in Jira through its REST API as a person would.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
export const SCREENSHOTS = process.env.VERDICT_SCREENSHOTS || join(root, 'target', 'admin-screenshots');

/** Starts verdict-world and resolves with what it printed (plus `stop()`). */
export async function startWorld() {
  const bin = process.env.VERDICT_WORLD_BIN || join(root, 'target', 'debug', 'verdict-world');
  assert.ok(existsSync(bin), `${bin} is missing: build it with \`cargo build -p verdict-e2e --bin verdict-world\``);
  const forge = join(root, 'forge', 'static', 'admin');
  assert.ok(existsSync(join(forge, 'index.html')), 'the Forge admin page is not built: run scripts/build-forge-ui');
  const child = spawn(bin, [forge], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`verdict-world exited (${code}) before it was ready`)));
  });
  const world = JSON.parse(first);
  world.stop = async () => {
    child.stdin.end();
    await new Promise((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, 10_000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
    });
  };
  return world;
}

/** Debian's Chromium, headless, with nothing reaching outside the machine. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

/** A page that fails the test on any console error (a CSP violation included). */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  return page;
}

/** Console errors other than the ones a test expects (e.g. the 403 the page itself reports). */
export function unexpectedErrors(page, allowed = []) {
  return page.consoleErrors.filter((e) => !allowed.some((a) => e.includes(a)));
}

/** The frame the Jira page shows the app in. */
export async function appFrame(page) {
  const handle = await page.waitForSelector('#app-frame');
  const frame = await handle.contentFrame();
  await frame.waitForLoadState('domcontentloaded');
  return frame;
}

/** axe-core on a page or frame: no serious or critical violation. */
export async function checkAccessibility(target, name) {
  await target.evaluate(AXE_SOURCE);
  const result = await target.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const described = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  assert.deepEqual(described, [], `accessibility of ${name}`);
  return result.violations.length;
}

export async function screenshot(page, name, { fullPage = true } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage });
}

/** Polls `check` until it returns something truthy. */
export async function eventually(what, check, { timeout = 20_000, every = 200 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last && last.message ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Jira's REST API as the site's triager (basic auth with an API token). */
export function jira(site) {
  const auth = `Basic ${Buffer.from(`${site.triager_email}:${site.triager_api_token}`).toString('base64')}`;
  const call = async (method, path, body) => {
    const res = await fetch(`${site.base_url}/rest/api/3${path}`, {
      method,
      headers: { Authorization: auth, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : null;
    if (res.status >= 400) throw new Error(`Jira ${method} ${path}: ${res.status} ${text}`);
    return json;
  };
  return {
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    put: (p, b) => call('PUT', p, b),
    /** Moves the issue to the status named `to`, with a comment, as the triager. */
    async transition(key, to, comment) {
      const { transitions } = await call('GET', `/issue/${key}/transitions`);
      const t = transitions.find((x) => x.to && x.to.name === to) || transitions.find((x) => x.name === to);
      assert.ok(t, `${key} offers no transition to ${to}: ${transitions.map((x) => x.name).join(', ')}`);
      const body = { transition: { id: t.id } };
      if (comment) {
        body.update = { comment: [{ add: { body: { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: comment }] }] } } }] };
      }
      await call('POST', `/issue/${key}/transitions`, body);
    },
  };
}
