// Monitoring end to end, as a user would wire it: a shell script on the gateway that
// uses nothing but busctl feeds data and alerts through a real tetherd (on a private
// bus) to a real tether-hub, and they show up in the browser, charted, live.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, openBrowser, repo } from './helpers.mjs';
import { startGateway } from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const DEVICE = 'gw-busctl';

let hub;
let gateway;
let ui;

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  gateway = await startGateway(hub, DEVICE);
  ui = await openBrowser(hub);
});

after(async () => {
  if (ui) await ui.browser.close();
  if (gateway) await gateway.stop();
  if (hub) await hub.stop();
});

const busctl = (...args) => gateway.run('busctl', ['--user', 'call', 'io.tether.Gateway1',
  '/io/tether/Gateway1', 'io.tether.Telemetry1', ...args]);

async function text(selector) {
  return (await ui.page.textContent(selector)).trim();
}

test('data and alerts sent with busctl appear in the table, the chart and the alert list', async () => {
  const { page } = ui;
  // The same lines a sensor's shell script would run.
  const first = busctl('Submit', 'sa{sv}', 'env', '2', 'temp', 'd', '21.5', 'humidity', 'u', '40');
  assert.match(first, /^t \d+/);
  busctl('RaiseAlert', 'sssa{sv}', 'door', 'warning', 'cabinet door open', '1', 'sensor', 's', 'reed-1');

  await ui.login();
  const row = `[data-testid="device-row"][data-device="${DEVICE}"]`;
  await page.waitForSelector(`${row} .badge.alert`);
  await page.click(`${row} a`);
  await page.click('[data-tab="telemetry"]');
  const temp = '[data-testid="latest-row"][data-stream="env"][data-field="temp"] [data-testid="latest-value"]';
  await page.waitForSelector(temp);
  assert.equal(await text(temp), '21.5');
  await page.waitForSelector('[data-testid="chart"][data-stream="env"][data-field="temp"] canvas');
  await page.waitForSelector('[data-testid="alert-row"][data-alert="door"][data-state="raised"]');
  assert.match(await text('[data-testid="open-alert-list"]'), /door \(warning\)/);

  // Live, with no reload: a second reading extends the chart, the alert clears.
  const navigations = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  busctl('Submit', 'sa{sv}', 'env', '2', 'temp', 'd', '23.75', 'humidity', 'u', '38');
  busctl('ClearAlert', 's', 'door');
  await page.waitForFunction((sel) => {
    const cell = document.querySelector(sel);
    return cell && cell.textContent.trim() === '23.75';
  }, temp);
  await page.waitForSelector('[data-testid="chart"][data-stream="env"][data-field="temp"][data-points="2"]');
  await page.waitForSelector('[data-testid="alert-row"][data-alert="door"][data-state="cleared"]');
  await page.waitForFunction(() =>
    /No open alerts/.test(document.querySelector('[data-testid="open-alert-list"]').textContent));
  assert.deepEqual(navigations, [], 'no reload');
  // Everything the daemon stored was acknowledged by the hub.
  const deadline = Date.now() + 5000;
  for (;;) {
    const pending = gateway.run('busctl', ['--user', 'get-property', 'io.tether.Gateway1',
      '/io/tether/Gateway1', 'io.tether.Gateway1', 'PendingRecords']).trim();
    if (pending === 't 0') break;
    assert.ok(Date.now() < deadline, `records still pending: ${pending}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await page.screenshot({ path: join(artifacts, 'hub-telemetry-busctl.png') });
});
