// The native Forge app's issue panel (jira:issuePanel) in Jira's issue view, in a real browser:
// the double frames the built Custom UI resource with a bridge whose requestRemote it carries
// out with a real Forge Invocation Token naming the issue, as Forge does. The viewer is a
// developer — not a Jira admin — who can see the issue.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startWorld, launchBrowser, newPage, appFrame, checkAccessibility, screenshot, unexpectedErrors,
} from './support.mjs';

let world;
let browser;

describe('the issue panel', () => {
  before(async () => {
    world = await startWorld();
    browser = await launchBrowser();
    assert.ok(world.forge_site, 'verdict-world set up the native Forge site');
  });
  after(async () => {
    await browser?.close();
    await world?.stop();
  });

  it('shows a Jira user the issue\'s findings, the last decision, its reason and evidence', async () => {
    for (const [width, name] of [[1280, 'issue-panel'], [390, 'issue-panel-phone']]) {
      const page = await newPage(browser, { viewport: { width, height: 900 } });
      await page.goto(world.forge_site.issue_page);
      const frame = await appFrame(page);
      const finding = frame.getByRole('article', { name: 'SQL injection in OrderRepository.find' });
      await finding.waitFor();
      const text = await finding.innerText();
      for (const expected of ['False positive', 'high', 'Last decision', 'Why:', 'the default policy', 'Evidence read', 'built by the ORM with bound parameters']) {
        assert.ok(text.toLowerCase().includes(expected.toLowerCase()), `${expected} in ${text}`);
      }
      const overflow = await frame.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the panel fits ${width} px (overflow ${overflow} px)`);
      await page.waitForTimeout(300);
      await checkAccessibility(frame, name);
      await screenshot(page, name);
      assert.deepEqual(unexpectedErrors(page), []);
      await page.context().close();
    }
  });

  it('the admin page of the native Forge install says until when Verdict can call Jira', async () => {
    const page = await newPage(browser);
    await page.goto(world.forge_site.admin_page);
    const frame = await appFrame(page);
    await frame.getByRole('heading', { level: 2, name: 'Overview' }).waitFor();
    const card = await frame.locator('#conn-h').locator('..').innerText();
    assert.ok(card.includes('forge') && card.includes('Verdict can call Jira until'), card);
    await checkAccessibility(frame, 'forge-native-overview');
    await screenshot(page, 'forge-native-overview');
    assert.deepEqual(unexpectedErrors(page), []);
    await page.context().close();
  });

  it('says so on an issue no finding is linked to', async () => {
    const page = await newPage(browser);
    await page.goto(world.forge_site.empty_issue_page);
    const frame = await appFrame(page);
    await frame.getByText('No security finding is linked to this issue.').waitFor();
    await checkAccessibility(frame, 'issue-panel-empty');
    assert.deepEqual(unexpectedErrors(page), []);
    await page.context().close();
  });

  it('the ticket\'s link back to its finding opens a page that shows no finding data', async () => {
    const res = await fetch(`${world.verdict}/f/0190f1c2-7b3a-7d4e-9f00-0123456789ab`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.includes('Security findings') && html.includes('(Verdict)'), html);
    assert.ok(!html.includes('OrderRepository'), 'no finding data');
    const odd = await fetch(`${world.verdict}/f/${encodeURIComponent('<script>alert(1)</script>')}`);
    assert.ok(!(await odd.text()).includes('<script>alert'), 'nothing echoed');
  });
});
