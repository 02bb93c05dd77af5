// The Telemetry view in a real browser (Debian's chromium, headless, through
// playwright-core) against a real tether-hub and a fake device on a real
// WebSocket: records the device sends appear in the latest-values table, the
// uPlot chart and the alert list live, without reloading; the device list shows
// the open alerts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startHub, requireWeb, repo, connectDevice, PROTO, encodeBody, decodeBody, openBrowser,
} from './helpers.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEVICE = 'gw-tele';
const MON = PROTO.MONITORING;

let hub;
let browser;
let page;
let dev;
let seq = 0;

before(async () => {
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  ({ browser, page } = await openBrowser(hub, { width: 1280, height: 900 }));
  dev = await connectDevice(hub, DEVICE);
});

after(async () => {
  if (dev) await dev.close();
  if (browser) await browser.close();
  if (hub) await hub.stop();
});

// Sends records and waits until the hub has acked them (stored).
async function send(...records) {
  for (const r of records) {
    seq += 1;
    const body = { seq, ts: Date.now(), ...r.body };
    dev.send({ hdr: { proto: MON, typ: r.typ }, body: encodeBody(body) });
  }
  for (;;) {
    const ack = await dev.next({ proto: MON, typ: 'ack' });
    if (decodeBody(ack.body).seq >= seq) return;
  }
}
const data = (stream, values, ts = Date.now()) => ({ typ: 'data', body: { stream, values, ts } });
const alert = (id, state, severity, summary) =>
  ({ typ: 'alert', body: { id, state, severity, summary, details: {} } });

async function text(selector) {
  return (await page.textContent(selector)).trim();
}

test('records from the device show up in the table, the chart and the alerts, live', async () => {
  dev.send({
    hdr: { proto: MON, typ: 'status' },
    body: encodeBody({ state: 'online', device_id: DEVICE, version: '4.5.6', boot_id: 'b-1', uptime_s: 600, inventory: { hostname: 'gw-tele', arch: 'x86_64' } }),
  });
  // Minutes apart: the hub downsamples an hour to 300 buckets of 12 s.
  await send(data('env', { temp: 21.5, humidity: 40 }, Date.now() - 300000),
    data('env', { temp: 22, humidity: 41 }, Date.now() - 120000),
    alert('overheat', 'raised', 'critical', 'cabinet too hot'));

  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  const row = `[data-testid="device-row"][data-device="${DEVICE}"]`;
  await page.waitForSelector(`${row} .badge.alert`);
  assert.match(await text(`${row} [data-testid="open-alerts"]`), /1 open alert/);

  await page.click(`${row} a`);
  await page.click('[data-tab="telemetry"]');
  await page.waitForSelector('[data-testid="latest-row"][data-stream="env"][data-field="temp"]');
  assert.equal(await text('[data-testid="latest-row"][data-field="temp"] [data-testid="latest-value"]'), '22');
  assert.match(await text('[data-testid="telemetry-status"]'), /4\.5\.6/);
  assert.match(await text('[data-testid="inventory"]'), /hostname\s*gw-tele/);
  await page.waitForSelector('[data-testid="chart"][data-field="temp"] canvas');
  await page.waitForSelector('[data-testid="chart"][data-field="temp"][data-points="2"]');
  await page.waitForSelector('[data-testid="alert-row"][data-alert="overheat"][data-state="raised"]');
  assert.match(await text('[data-testid="open-alert-list"]'), /overheat \(critical\)/);
  assert.match(await text('[data-testid="presence-list"]'), /online/);
  await page.screenshot({ path: join(artifacts, 'hub-telemetry.png') });

  // Live: new records arrive without a reload.
  const navigations = [];
  page.on('framenavigated', (f) => navigations.push(f.url()));
  await send(data('env', { temp: 25.25, humidity: 39 }), data('power', { volts: 12.1 }),
    alert('overheat', 'cleared', 'critical', 'back to normal'),
    { typ: 'dropped', body: { first: 100, last: 104, count: 5 } });
  await page.waitForFunction(() => {
    const cell = document.querySelector('[data-testid="latest-row"][data-field="temp"] [data-testid="latest-value"]');
    return cell && cell.textContent.trim() === '25.25';
  });
  await page.waitForSelector('[data-testid="chart"][data-field="temp"][data-points="3"]');
  await page.waitForSelector('[data-testid="chart"][data-stream="power"][data-field="volts"] canvas');
  await page.waitForSelector('[data-testid="alert-row"][data-alert="overheat"][data-state="cleared"]');
  await page.waitForFunction(() =>
    /No open alerts/.test(document.querySelector('[data-testid="open-alert-list"]').textContent));
  assert.match(await text('[data-testid="loss-list"]'), /100–104 \(5\)/);
  assert.deepEqual(navigations, [], 'no reload');
  await page.screenshot({ path: join(artifacts, 'hub-telemetry-live.png') });
});
