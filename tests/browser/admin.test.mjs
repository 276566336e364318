// The admin app in a real browser (Debian's Chromium through playwright-core), inside the Jira
// double's pages exactly as Jira frames it: Connect (page JWT, context tokens from a stand-in
// all.js signed with the installation's shared secret), Forge (a bridge whose requestRemote the
// double carries out with real Forge Invocation Tokens) and the operator's standalone /admin.
// No test-only shortcut exists in Verdict: every call is authenticated as in production.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  root, startWorld, launchBrowser, newPage, appFrame, checkAccessibility, screenshot, eventually,
  jira, unexpectedErrors,
} from './support.mjs';

const RULES = join(root, 'target', 'wasm', 'wasm32-unknown-unknown', 'release');
const APP_KEY = 'io.verdict.jira';

let world;
let browser;
let acme;
let globex;
const story = {};

async function verdict(path, { key, method = 'GET', body } = {}) {
  const res = await fetch(`${world.verdict}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A context token as Jira's page would hand it to the frame (for direct API checks). */
async function contextToken(site, account, ttl = 300) {
  const res = await fetch(`${world.double}/ui/${site.name}/_host/context-token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ app: APP_KEY, account, ttl }),
  });
  return (await res.json()).token;
}

async function adminApi(path, token, headers = {}) {
  const res = await fetch(`${world.verdict}/api/admin/v1${path}`, { headers: { Authorization: `JWT ${token}`, ...headers } });
  return { status: res.status, body: await res.json() };
}

/** Opens a route of the app inside the Jira page and waits for its heading. */
async function open(frame, linkName, heading) {
  await frame.getByRole('link', { name: linkName, exact: true }).click();
  await frame.getByRole('heading', { level: 2, name: heading }).waitFor();
}

/** Waits for the frame to settle (the double resizes it to its content), then checks and shoots. */
async function checkPage(page, frame, name, options) {
  await page.waitForTimeout(400);
  await checkAccessibility(frame, name);
  await screenshot(page, name, options);
}

describe('the Verdict admin app inside Jira', () => {
  before(async () => {
    world = await startWorld();
    [acme, globex] = world.sites;
    browser = await launchBrowser();
  });

  after(async () => {
    if (browser) await browser.close();
    if (world) await world.stop();
  });

  it('runs the whole story as a Jira admin (Connect)', async () => {
    const page = await newPage(browser);
    await page.goto(acme.connect_page);
    let frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    await checkPage(page, frame, 'overview');

    // A scanner key, shown once, with a ready-to-run import command.
    await open(frame, 'Scanners', 'Scanners');
    await frame.getByLabel('Scanner name').fill('semgrep-acme-ci');
    await frame.getByRole('button', { name: 'Create key' }).click();
    const keyBox = frame.getByLabel('API key', { exact: true });
    await keyBox.waitFor();
    story.key = await keyBox.inputValue();
    assert.match(story.key, /^vdk_/);
    assert.match(await frame.getByLabel('Import a finding with it').inputValue(), /curl -s -X POST .*\/api\/v1\/findings -H 'Authorization: Bearer vdk_/);
    await frame.getByRole('cell', { name: 'semgrep-acme-ci', exact: true }).waitFor();
    await checkPage(page, frame, 'scanners');
    // Made with the default scope: a scanner key, refused the admin API.
    const refused = await verdict('/api/v1/settings', { key: story.key });
    assert.equal(refused.status, 403, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 'admin_scope_required');

    // The key imports a finding.
    const first = await verdict('/api/v1/findings', {
      key: story.key,
      method: 'POST',
      body: { external_id: 'semgrep:sqli:app/views.py:42', title: 'SQL injection in search', severity: 'high', scan_type: 'sast' },
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    story.firstFinding = first.body.finding.id;

    // Ticketing: the project from Jira's list, auto-ticketing on.
    await open(frame, 'Settings', 'Settings');
    const ticketing = frame.locator('form[data-group="ticketing"]');
    const project = ticketing.getByLabel('Project', { exact: true });
    await eventually('the project picker to fill from Jira', async () => (await project.locator('option').allTextContents()).includes('Application (APP)'));
    await project.selectOption({ label: 'Application (APP)' });
    const issueType = ticketing.getByLabel('Issue type', { exact: true });
    await eventually('issue types of APP', async () => (await issueType.locator('option').allTextContents()).includes('Bug'));
    await issueType.selectOption({ label: 'Bug' });
    await ticketing.getByLabel('Auto-ticketing').check();
    // An out-of-range score is refused inline, next to the field, and nothing is saved.
    await ticketing.getByLabel('Minimum score').fill('11');
    await ticketing.getByRole('button', { name: 'Save Ticketing' }).click();
    const scoreError = ticketing.locator('[data-key="ticket.min_score"] .field-error');
    await scoreError.waitFor();
    assert.match(await scoreError.textContent(), /between 0 and 10/);
    assert.equal(await ticketing.getByLabel('Minimum score').getAttribute('aria-invalid'), 'true');
    await checkPage(page, frame, 'settings-error', { fullPage: false });
    await ticketing.getByLabel('Minimum score').fill('');
    await ticketing.getByRole('button', { name: 'Save Ticketing' }).click();
    await ticketing.getByText('Saved.').waitFor();
    await checkPage(page, frame, 'settings');

    // A new finding now gets its ticket in Jira, through the outbox.
    const second = await verdict('/api/v1/findings', {
      key: story.key,
      method: 'POST',
      body: { external_id: 'semgrep:xss:app/search.py:7', title: 'Reflected XSS in /search', severity: 'critical', scan_type: 'sast', file_path: 'tests/fixtures/search.py' },
    });
    assert.equal(second.status, 201);
    story.secondFinding = second.body.finding.id;
    const linked = await eventually('the auto-ticket', async () => {
      const f = await verdict(`/api/v1/findings/${story.secondFinding}`, { key: story.key });
      return f.body.jira;
    });
    story.autoTicket = linked.issue_key;
    const issue = await jira(acme).get(`/issue/${story.autoTicket}`);
    assert.equal(issue.fields.summary.includes('Reflected XSS'), true, issue.fields.summary);
    assert.equal(issue.fields.project.key, 'APP');

    // The first finding is exported from the Findings page.
    await open(frame, 'Findings', 'Findings');
    await frame.getByRole('button', { name: 'Export SQL injection in search' }).click();
    const exported = await eventually('the export', async () => (await verdict(`/api/v1/findings/${story.firstFinding}`, { key: story.key })).body.jira);
    story.exportTicket = exported.issue_key;
    await open(frame, 'Overview', 'Overview');
    await open(frame, 'Findings', 'Findings');
    await frame.getByRole('link', { name: story.autoTicket }).waitFor();
    await frame.getByRole('link', { name: story.exportTicket }).waitFor();
    // Someone renames the ticket in Jira; a re-push from the Findings page puts it back.
    await jira(acme).put(`/issue/${story.exportTicket}`, { fields: { summary: 'Renamed in Jira' } });
    await frame.getByRole('button', { name: 'Re-push SQL injection in search' }).click();
    await frame.locator('td').getByText('Re-push queued.').waitFor();
    await eventually('the re-push', async () =>
      (await jira(acme).get(`/issue/${story.exportTicket}`)).fields.summary === 'SQL injection in search');
    // A note from the Findings page reaches the ticket as a [Verdict] comment and is listed.
    await frame.getByRole('button', { name: 'Notes SQL injection in search' }).click();
    await frame.getByRole('heading', { name: 'Notes on SQL injection in search' }).waitFor();
    await frame.getByLabel('New note').fill('Owner: the payments team.');
    await frame.getByRole('button', { name: 'Add note' }).click();
    await frame.locator('.notes').getByText('Owner: the payments team.').waitFor();
    await eventually('the note on the ticket', async () =>
      (await jira(acme).get(`/issue/${story.exportTicket}/comment`)).comments.some((c) =>
        JSON.stringify(c.body).includes('Owner: the payments team.')));
    await checkPage(page, frame, 'findings');
    // The API's filters: only the critical one, updated today.
    await frame.getByLabel('Severity').selectOption({ label: 'Critical' });
    await frame.getByLabel('Updated since').fill(new Date().toISOString().slice(0, 10));
    await frame.getByRole('button', { name: 'Filter', exact: true }).click();
    await eventually('the filtered list', async () => (await frame.locator('tbody tr').count()) === 1);
    assert.match(await frame.locator('tbody').textContent(), /Reflected XSS/);

    // A closure decided by the default policy, so replay has something to replay.
    await jira(acme).transition(story.exportTicket, 'Done', 'Fixed: the query is parameterised now (PR 481), verified by a rescan.');
    await eventually('the default policy to resolve the exported finding', async () =>
      (await verdict(`/api/v1/findings/${story.firstFinding}`, { key: story.key })).body.status === 'resolved');

    // Rules: a broken module is refused in words; a good one is uploaded, replayed, evaluated, activated.
    await open(frame, 'Rules', 'Rules');
    await frame.locator('input[type=file]').setInputFiles({ name: 'broken.wasm', mimeType: 'application/wasm', buffer: Buffer.from('this is not webassembly') });
    await frame.getByLabel('Rule name').fill('broken');
    await frame.getByRole('button', { name: 'Upload' }).click();
    const refusal = frame.getByRole('alert').filter({ hasText: 'Refused: invalid_module' });
    await refusal.waitFor();
    assert.match(await refusal.textContent(), /not a WebAssembly rule Verdict can load/);
    await checkPage(page, frame, 'rules-refused');

    await frame.locator('input[type=file]').setInputFiles({ name: 'comment-classifier.wasm', mimeType: 'application/wasm', buffer: readFileSync(join(RULES, 'comment_classifier.wasm')) });
    await frame.getByLabel('Rule name').fill('comment-classifier');
    await frame.getByRole('button', { name: 'Upload' }).click();
    await frame.locator('.message-success').filter({ hasText: 'Uploaded comment-classifier version 1' }).waitFor();
    await frame.getByRole('cell', { name: 'Rust', exact: true }).waitFor();

    await frame.getByRole('button', { name: 'Replay version 1' }).click();
    await frame.getByRole('button', { name: 'Replay', exact: true }).click();
    await frame.getByText(/1 closures: /).waitFor();
    await frame.getByRole('cell', { name: story.exportTicket }).waitFor();
    await checkPage(page, frame, 'rules-replay');

    await frame.getByRole('button', { name: 'Evaluate version 1' }).click();
    await frame.getByLabel('A recent closure').waitFor();
    await frame.getByRole('button', { name: 'Evaluate', exact: true }).click();
    await frame.getByText('Decision:').waitFor();
    assert.equal(await frame.locator('meter').count(), 6, 'usage against every limit');
    await checkPage(page, frame, 'rules-evaluate');

    await frame.getByRole('button', { name: 'Activate version 1' }).click();
    const dialog = frame.getByRole('dialog');
    await dialog.waitFor();
    await checkAccessibility(frame, 'activate dialog');
    await dialog.getByRole('button', { name: 'Activate' }).click();
    await frame.getByText('version 1 active').waitFor();

    // A triager closes the auto-ticket in Jira; the active rule decides, the log says why.
    await jira(acme).transition(story.autoTicket, "Won't Do", 'False positive: this is test fixture code that is never deployed.');
    await eventually('the rule to mark the finding a false positive', async () =>
      (await verdict(`/api/v1/findings/${story.secondFinding}`, { key: story.key })).body.status === 'false_positive');
    await open(frame, 'Decisions', 'Decisions');
    const row = frame.getByRole('row').filter({ hasText: story.autoTicket });
    await row.waitFor();
    const text = await row.textContent();
    assert.match(text, /False positive/);
    assert.match(text, /rule comment-classifier@1/);
    assert.match(text, /test fixture code|false positive/i);
    assert.match(text, /Tri Ager/, 'who closed it, by name');
    await checkPage(page, frame, 'decisions');

    await row.getByRole('link', { name: /Details/ }).click();
    await frame.getByRole('heading', { level: 2, name: `Decision on ${story.autoTicket}` }).waitFor();
    assert.match(await frame.getByLabel('Rule input').textContent(), /never deployed/);
    await checkPage(page, frame, 'decision-detail');

    // Every change is in the audit log, with who made it.
    await open(frame, 'Audit log', 'Audit log');
    for (const action of ['api_key.create', 'settings.update', 'rule.upload', 'rule.activate', 'finding.export']) {
      await frame.getByRole('cell', { name: action, exact: true }).first().waitFor();
    }
    assert.match(await frame.locator('table').textContent(), /Site Admin/);
    await checkPage(page, frame, 'audit');
    // The two refusals above (the score, the broken module) are the only failed requests.
    assert.deepEqual(unexpectedErrors(page, ['status of 422']), []);
  });

  it('refuses a non-admin, in the page and in the API', async () => {
    const page = await newPage(browser);
    await page.goto(acme.connect_page_as_developer);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { name: 'Verdict is administered by Jira administrators' }).waitFor();
    assert.match(await frame.locator('main').textContent(), /not a Jira administrator/);
    await checkPage(page, frame, 'not-admin');

    const token = await contextToken(acme, acme.developer);
    const r = await adminApi('/overview', token);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'not_jira_admin');

    // Forge: the backend decides, whatever the frontend believes.
    const forgePage = await newPage(browser);
    await forgePage.goto(acme.forge_page_as_developer);
    const forgeFrame = await appFrame(forgePage);
    await forgeFrame.getByRole('heading', { name: 'Verdict is administered by Jira administrators' }).waitFor();
  });

  it('says "refresh the page" when Jira\'s token has expired', async () => {
    const page = await newPage(browser);
    await page.goto(`${acme.connect_page}&page_ttl=-120`);
    let frame = await appFrame(page);
    await frame.getByRole('heading', { name: 'This page has expired' }).waitFor();
    await frame.getByRole('button', { name: 'Refresh the page' }).waitFor();
    await checkPage(page, frame, 'expired');

    // The page loaded fine, but its context tokens have run out.
    await page.goto(`${acme.connect_page}&token_ttl=-120`);
    frame = await appFrame(page);
    await frame.getByRole('heading', { name: 'Your session has expired' }).waitFor();
    // Refresh reloads Jira's whole page (a new signed link and new tokens).
    const reloaded = page.waitForEvent('load');
    await frame.getByRole('button', { name: 'Refresh the page' }).click();
    await reloaded;
    const context = await contextToken(acme, acme.admin, -120);
    const r = await adminApi('/me', context);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, 'token_expired');

    // A context token never opens the page route (only the page JWT with its real qsh does).
    const fresh = await contextToken(acme, acme.admin);
    const res = await fetch(`${world.verdict}/connect/admin?jwt=${fresh}`);
    assert.equal(res.status, 401);
    assert.match(await res.text(), /could not verify this page/);
  });

  it("shows a second tenant's admin nothing of the first tenant", async () => {
    const page = await newPage(browser);
    await page.goto(globex.connect_page);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    for (const [link, heading] of [['Findings', 'Findings'], ['Decisions', 'Decisions'], ['Scanners', 'Scanners'], ['Rules', 'Rules'], ['Audit log', 'Audit log']]) {
      await open(frame, link, heading);
      const main = await frame.locator('main').textContent();
      for (const secret of ['SQL injection', 'Reflected XSS', 'semgrep-acme-ci', 'comment-classifier', story.autoTicket].filter(Boolean)) {
        assert.ok(!main.includes(secret), `${heading} of globex shows ${secret}`);
      }
    }
    // The tenant comes from the token: naming another tenant changes nothing.
    const token = await contextToken(globex, globex.admin);
    const me = await adminApi('/me', token);
    const acmeMe = await adminApi('/me', await contextToken(acme, acme.admin));
    const r = await adminApi('/findings', token, { 'X-Verdict-Tenant': acmeMe.body.tenant.id });
    assert.equal(r.status, 200);
    assert.equal(r.body.findings.length, 0);
    assert.notEqual(me.body.tenant.id, acmeMe.body.tenant.id);
    const d = await adminApi(`/decisions?issue=${story.autoTicket}`, token);
    assert.equal(d.body.decisions.length, 0);
  });

  it('works as the Forge admin page, through requestRemote and real invocation tokens', async () => {
    const page = await newPage(browser);
    await page.goto(acme.forge_page);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    // The same tenant's data: the decisions taken above.
    await frame.getByRole('link', { name: story.autoTicket }).first().waitFor();
    await checkPage(page, frame, 'forge-overview');
    await open(frame, 'Settings', 'Settings');
    const closure = frame.locator('form[data-group="closure"]');
    await closure.getByLabel('Comment the decision').check();
    await closure.getByRole('button', { name: 'Save Closure' }).click();
    await closure.getByText('Saved.').waitFor();
    await open(frame, 'Audit log', 'Audit log');
    const row = frame.getByRole('row').filter({ hasText: 'settings.update' }).filter({ hasText: 'forge' });
    await row.first().waitFor();
    await checkPage(page, frame, 'forge-audit');
    assert.deepEqual(unexpectedErrors(page), []);
  });

  it('serves the operator a standalone /admin with a session and a tenant picker', async () => {
    const page = await newPage(browser);
    await page.goto(`${world.verdict}/admin`);
    await page.getByRole('heading', { name: 'Verdict administration' }).waitFor();
    await checkPage(page, page, 'standalone-login');
    await page.getByLabel('Admin token').fill('x'.repeat(40));
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'not this server\'s admin token' }).waitFor();
    await page.getByLabel('Admin token').fill(world.admin_token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const picker = page.getByLabel('Tenant');
    await picker.waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'verdict_admin');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
    const acmeOption = (await picker.locator('option').allTextContents()).find((t) => t.includes('/s/acme'));
    await picker.selectOption({ label: acmeOption });
    await page.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    await page.getByRole('link', { name: story.autoTicket }).first().waitFor();
    await checkPage(page, page, 'standalone-overview');

    // A change without the page's CSRF token is refused, even with the session cookie.
    const tenantId = (await (await fetch(`${world.verdict}/api/admin/v1/me`, { headers: { Cookie: `verdict_admin=${session.value}`, 'X-Verdict-Tenant': await page.evaluate(() => sessionStorage.getItem('verdict.admin.tenant')) } })).json()).tenant.id;
    const forged = await fetch(`${world.verdict}/api/admin/v1/api-keys`, {
      method: 'POST',
      headers: { Cookie: `verdict_admin=${session.value}`, 'X-Verdict-Tenant': tenantId, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'forged' }),
    });
    assert.equal(forged.status, 403);
    assert.equal((await forged.json()).error.code, 'csrf_failed');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Verdict administration' }).waitFor();
    const after = await fetch(`${world.verdict}/api/admin/v1/tenants`, { headers: { Cookie: `verdict_admin=${session.value}` } });
    assert.equal(after.status, 401);
  });

  it("follows Jira's dark theme through AP.theming", async () => {
    const page = await newPage(browser);
    await page.goto(`${acme.connect_page}&color=dark`);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    await eventually('the dark theme', async () => (await frame.evaluate(() => document.documentElement.dataset.colorMode)) === 'dark');
    const background = await frame.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const [r, g, b] = background.match(/\d+/g).map(Number);
    assert.ok(r + g + b < 150, `a dark background from the design tokens, got ${background}`);
    await checkPage(page, frame, 'overview-dark');
  });

  it('works with the keyboard alone', async () => {
    const page = await newPage(browser);
    await page.goto(acme.connect_page);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    const focused = () => frame.evaluate(() => {
      const el = document.activeElement;
      return el ? `${el.tagName.toLowerCase()}:${(el.textContent || el.getAttribute('aria-label') || el.id || '').trim().slice(0, 60)}` : '';
    });
    // Tab from the top reaches the navigation; Enter follows a link and focus moves to the page heading.
    await frame.locator('.skip-link').focus();
    let reached = false;
    for (let i = 0; i < 15 && !reached; i += 1) {
      await page.keyboard.press('Tab');
      reached = (await focused()) === 'a:Scanners';
    }
    assert.ok(reached, 'Tab reaches the Scanners link');
    await page.keyboard.press('Enter');
    await frame.getByRole('heading', { level: 2, name: 'Scanners' }).waitFor();
    await eventually('focus on the new page\'s heading', async () => (await focused()) === 'h2:Scanners');
    // Type a name, submit with Enter; the new key appears.
    await frame.getByLabel('Scanner name').focus();
    await page.keyboard.type('keyboard-scanner');
    await page.keyboard.press('Enter');
    await frame.getByLabel('API key', { exact: true }).waitFor();
    // A confirmation dialog opens from the keyboard and Escape closes it without acting.
    await frame.getByRole('button', { name: 'Revoke keyboard-scanner' }).focus();
    await page.keyboard.press('Enter');
    await frame.getByRole('dialog').waitFor();
    assert.match(await focused(), /^button:Revoke/);
    await page.keyboard.press('Escape');
    await frame.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await frame.getByRole('button', { name: 'Revoke keyboard-scanner' }).count(), 1);
    // Space toggles a checkbox; the settings form saves with Enter on its button.
    await open(frame, 'Settings', 'Settings');
    const closure = frame.locator('form[data-group="closure"]');
    const box = closure.getByLabel('Comment the decision');
    const before = await box.isChecked();
    await box.focus();
    await page.keyboard.press('Space');
    assert.equal(await box.isChecked(), !before);
    await closure.getByRole('button', { name: 'Save Closure' }).focus();
    await page.keyboard.press('Enter');
    await closure.getByText('Saved.').waitFor();
  });
});
