// The audit trail in a real browser: the admin opens a shell on a real tetherd,
// closes it, and finds both in the audit page (with its filters); the admin page
// adds a viewer, who then sees neither the audit nor a working terminal.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { startHub, requireWeb, repo, request, login, openBrowser } from './helpers.mjs';
import { startTetherd, tetherdBin } from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEVICE = 'gw-audit';

let hub;
let tetherd;
let browser;
let context;
let page;

function shot(name) {
  return page.screenshot({ path: join(artifacts, `hub-audit-${name}.png`) });
}

function terminalText() {
  return page.evaluate(() => {
    const rows = document.querySelector('[data-testid="terminal"] .xterm-rows');
    return rows ? rows.textContent.replace(/\u00a0/g, ' ') : '';
  });
}

async function signIn(user, password) {
  await page.goto(`${hub.url}/#/login`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', user);
  await page.fill('[data-testid="password"]', password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await page.waitForSelector('[data-testid="device-list"]');
}

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  tetherd = startTetherd(hub, DEVICE, null, join(hub.dir, 'device-state'),
    [`--shell.user=${userInfo().username}`]);
  ({ browser, context, page } = await openBrowser(hub, { width: 1280, height: 800 }));
});

after(async () => {
  if (browser) await browser.close();
  if (tetherd) await tetherd.stop();
  if (hub) await hub.stop();
});

test('a shell opened in the browser is in the audit page, with who, when and which device', async () => {
  await signIn('admin', hub.password);
  const row = `[data-testid="device-row"][data-device="${DEVICE}"]`;
  await page.waitForSelector(`${row} .badge.online`, { timeout: 20000 });
  await page.click(`${row} a`);
  await page.click('[data-testid="terminal-open"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="open"]', { timeout: 15000 });
  const marker = `audit-${Math.random().toString(36).slice(2, 8)}`;
  await page.click('[data-testid="terminal"]');
  await page.keyboard.type(`echo ${marker}`);
  await page.keyboard.press('Enter');
  const t0 = Date.now();
  while (!(await terminalText()).includes(`${marker}`) && Date.now() - t0 < 10000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.click('[data-testid="terminal-close"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="ended"]');

  // The audit page, from the top bar (admins see the link).
  await page.click('[data-testid="nav-audit"]');
  await page.waitForSelector('[data-testid="audit-list"]');
  await page.fill('[data-testid="audit-action"]', 'shell.');
  await page.fill('[data-testid="audit-device"]', DEVICE);
  await page.click('[data-testid="audit-filters"] button[type="submit"]');
  const open = '[data-testid="audit-row"][data-action="shell.open"][data-user="admin"]';
  const close = '[data-testid="audit-row"][data-action="shell.close"][data-user="admin"]';
  await page.waitForSelector(open, { timeout: 10000 });
  await page.waitForSelector(close, { timeout: 10000 });
  assert.match(await page.textContent(open), new RegExp(DEVICE));
  assert.match(await page.textContent(close), /duration_s=/);
  // The filter left only shell events.
  const actions = await page.$$eval('[data-testid="audit-row"]', (rows) => rows.map((r) => r.dataset.action));
  assert.ok(actions.length >= 2 && actions.every((a) => a.startsWith('shell.')), actions.join());
  // The export link is the same query as JSON lines.
  const href = await page.getAttribute('[data-testid="audit-export"]', 'href');
  assert.match(href, /format=jsonl/);
  assert.match(href, /action=shell\./);
  await shot('page');
});

test('the admin page adds a viewer, who gets neither the audit nor a shell', async () => {
  await page.click('[data-testid="nav-accounts"]');
  await page.waitForSelector('[data-testid="account-list"]');
  await page.fill('[data-testid="account-name"]', 'vera');
  await page.selectOption('[data-testid="account-role"]', 'viewer');
  await page.fill('[data-testid="account-password"]', 'vera-password');
  await page.click('[data-testid="account-create"] button[type="submit"]');
  await page.waitForSelector('[data-testid="account-row"][data-account="vera"]');
  await shot('accounts');

  await page.click('[data-testid="logout"]');
  await signIn('vera', 'vera-password');
  assert.equal(await page.isVisible('[data-testid="nav-audit"]'), false);
  // The hub refuses a viewer's shell whatever the page shows.
  await page.click(`[data-testid="device-row"][data-device="${DEVICE}"] a`);
  await page.click('[data-testid="terminal-open"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="error"]', { timeout: 10000 });
  assert.match(await page.textContent('[data-testid="terminal-status"]'), /forbidden|operator role/i);
  // And the audit shows the refusal, to an admin.
  const admin = await login(hub);
  const res = await request(hub, 'GET', '/api/audit?user=vera', { cookie: admin });
  assert.ok(res.json.some((e) => e.action === 'message.denied'), res.text);
});
