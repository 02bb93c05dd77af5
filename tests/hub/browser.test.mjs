// The operator UI in a real browser (Debian's chromium, headless, driven by
// playwright-core) against a real tether-hub and a real tetherd, both on spare
// loopback ports with certificates made for this run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { startHub, requireWeb, repo } from './helpers.mjs';
import { startTetherd, tetherdBin } from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEVICE = 'gw-browser';

let hub;
let tetherd;
let browser;
let page;

function shot(name) {
  return page.screenshot({ path: join(artifacts, `hub-${name}.png`) });
}

// The visible lines of the xterm.js terminal (DOM renderer).
function terminalLines() {
  return page.evaluate(() => {
    const rows = document.querySelector('[data-testid="terminal"] .xterm-rows');
    return rows ? Array.from(rows.children, (r) => r.textContent.replace(/\u00a0/g, ' ')) : [];
  });
}

async function waitForLine(pred, what, timeout = 10000) {
  const t0 = Date.now();
  let lines = [];
  while (Date.now() - t0 < timeout) {
    lines = await terminalLines();
    const hit = [...lines].reverse().find((l) => pred(l.trim()));
    if (hit !== undefined) return hit.trim();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`terminal never showed ${what}; it shows:\n${lines.join('\n')}\ntetherd:\n${tetherd.output}`);
}

async function typeLine(s) {
  await page.click('[data-testid="terminal"]');
  await page.keyboard.type(s);
  await page.keyboard.press('Enter');
}

async function sttySize() {
  const marker = `sz${Math.random().toString(36).slice(2, 8)}`;
  await typeLine(`echo ${marker}-$(stty size | tr ' ' x)`);
  const line = await waitForLine((l) => new RegExp(`^${marker}-\\d+x\\d+$`).test(l), 'the stty size');
  const [rows, cols] = line.slice(marker.length + 1).split('x').map(Number);
  return { rows, cols };
}

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  tetherd = startTetherd(hub, DEVICE, null, join(hub.dir, 'device-state'),
    [`--shell.user=${userInfo().username}`]);

  // Trust exactly the test server's key, nothing else.
  const spki = execSync(
    `openssl x509 -in ${join(hub.dir, 'server.pem')} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
  ).toString().trim();
  const { chromium } = requireWeb('playwright-core');
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki}`],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`browser: ${m.text()}`); });
});

after(async () => {
  if (browser) await browser.close();
  if (tetherd) await tetherd.stop();
  if (hub) await hub.stop();
});

test('log in, see the device online, use its terminal, resize, close and reopen', async () => {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await shot('login');

  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', 'wrong');
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await page.waitForSelector('text=Wrong username or password');

  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  const row = `[data-testid="device-row"][data-device="${DEVICE}"]`;
  await page.waitForSelector(row);
  await page.waitForSelector(`${row} .badge.online`, { timeout: 20000 });
  await shot('devices');

  await page.click(`${row} a`);
  await page.waitForSelector('[data-testid="device-title"]');
  await page.click('[data-testid="terminal-open"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="open"]', { timeout: 15000 });

  const token = `tether-${Math.random().toString(36).slice(2, 10)}`;
  await typeLine(`echo ${token}`);
  await waitForLine((l) => l === token, token);
  await shot('terminal');

  // The terminal fills its pane and follows the window.
  const before1 = await sttySize();
  assert.ok(before1.cols > 80 && before1.rows > 20, `a 1280x800 window gives a big terminal: ${JSON.stringify(before1)}`);
  await page.setViewportSize({ width: 760, height: 520 });
  await new Promise((r) => setTimeout(r, 500));
  const after1 = await sttySize();
  assert.ok(after1.cols < before1.cols && after1.rows < before1.rows,
    `stty size follows the window: ${JSON.stringify(before1)} -> ${JSON.stringify(after1)}`);
  await shot('terminal-small');
  await page.setViewportSize({ width: 1280, height: 800 });
  await new Promise((r) => setTimeout(r, 500));
  const again = await sttySize();
  assert.deepEqual(again, before1);

  // Close the session: the page says so. Reopen: a new shell works.
  await page.click('[data-testid="terminal-close"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="ended"]');
  assert.match(await page.textContent('[data-testid="terminal-message"]'), /closed/i);
  await shot('terminal-closed');
  await page.click('[data-testid="terminal-open"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="open"]', { timeout: 15000 });
  const token2 = `tether-${Math.random().toString(36).slice(2, 10)}`;
  await typeLine(`echo ${token2}`);
  await waitForLine((l) => l === token2, token2);

  // The shell exits by itself: the page says the session ended.
  await typeLine('exit');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="ended"], [data-testid="terminal-status"][data-state="error"]', { timeout: 10000 });
  await shot('terminal-exited');

  // Narrow window: the device list still reads well.
  await page.setViewportSize({ width: 390, height: 760 });
  await page.goto(`${hub.url}/#/devices`);
  await page.waitForSelector(`${row} .badge.online`);
  await shot('devices-narrow');

  // The device goes away while a terminal is open: a clear message.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.click(`${row} a`);
  await page.click('[data-testid="terminal-open"]');
  await page.waitForSelector('[data-testid="terminal-status"][data-state="open"]', { timeout: 15000 });
  await tetherd.stop();
  await page.waitForSelector('[data-testid="terminal-status"][data-state="error"]', { timeout: 10000 });
  assert.match(await page.textContent('[data-testid="terminal-status"]'), /device disconnected|closed/i);
  await shot('device-gone');
});
