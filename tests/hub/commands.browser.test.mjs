// The Commands panel in a real browser (Debian's chromium, headless, through
// playwright-core) against a real tether-hub and a real tetherd on a private bus,
// with examples/relay.sh served as target `relay` by `tetherctl serve`: the operator
// picks the target, types an action and args, clicks Send, and sees the script's
// `ret` (and, for a failing action, its `err`) arrive live, with the history saying
// who sent each request.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, requireWeb, repo, openBrowser } from './helpers.mjs';
import { startGateway } from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEVICE = 'gw-commands';

let hub;
let gateway;
let browser;
let page;
let relayFile;

before(async () => {
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  gateway = await startGateway(hub, DEVICE);
  await gateway.ready();
  relayFile = join(gateway.dir, 'relay-value');
  writeFileSync(relayFile, '0\n');
  gateway.serve('relay', [join(repo, 'examples/relay.sh')], { RELAY_FILE: relayFile });
  ({ browser, page } = await openBrowser(hub, { width: 1280, height: 900 }));
});

after(async () => {
  if (browser) await browser.close();
  if (gateway) await gateway.stop();
  if (hub) await hub.stop();
});

async function text(selector) {
  return (await page.textContent(selector)).trim();
}

test('a command sent from the UI runs the served script and shows its ret', async () => {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await page.click(`[data-testid="device-row"][data-device="${DEVICE}"] a`);
  await page.click('[data-tab="commands"]');
  // The target appears once tetherctl serve has registered it and the device said so.
  await page.waitForSelector('[data-testid="command-target"] option[value="relay"]', { state: 'attached', timeout: 15000 });

  await page.selectOption('[data-testid="command-target"]', 'relay');
  await page.fill('[data-testid="command-action"]', 'on');
  await page.fill('[data-testid="command-args"]', '{"channel": 2}');
  await page.click('[data-testid="command-send"]');
  await page.waitForSelector('[data-testid="command-outcome"][data-status="ok"]', { timeout: 15000 });
  const id = await page.getAttribute('[data-testid="command-outcome"]', 'data-id');
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(await text('[data-testid="command-result"]'), `ret {"on":true,"request":"${id}"}`);
  assert.equal(readFileSync(relayFile, 'utf8').trim(), '1');
  const row = `[data-testid="command-row"][data-id="${id}"]`;
  await page.waitForSelector(`${row}[data-status="ok"]`);
  assert.equal(await text(`${row} [data-testid="command-user"]`), 'admin');
  assert.match(await text(row), /relay\s*on\s*\{"channel":2\}/);
  await page.screenshot({ path: join(artifacts, 'hub-commands.png') });

  // A failing action: the script's last stderr line comes back as err.
  await page.fill('[data-testid="command-action"]', 'explode');
  await page.fill('[data-testid="command-args"]', '{}');
  await page.click('[data-testid="command-send"]');
  await page.waitForSelector('[data-testid="command-outcome"][data-status="error"]', { timeout: 15000 });
  assert.equal(await text('[data-testid="command-result"]'),
    "err unknown action 'explode' (on, off, toggle, get)");
  assert.equal(await page.locator('[data-testid="command-row"]').count(), 2);

  // Args that are not a JSON object are refused before anything is sent.
  await page.fill('[data-testid="command-args"]', '[1, 2');
  await page.click('[data-testid="command-send"]');
  assert.match(await text('[data-testid="command-error"]'), /not JSON/);
  assert.equal(await page.locator('[data-testid="command-row"]').count(), 2);
});
