// The device list at fleet size in a real browser (Debian's chromium, headless):
// 10 000 devices registered in bulk plus one live fake device with an open alert.
// The page holds one page of 50 rows whatever the fleet's size; search, the
// online / alerts / version filters and paging are answered by the hub.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  startHub, requireWeb, repo, connectDevice, hubBin, PROTO, encodeBody, decodeBody, openBrowser,
} from './helpers.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const FLEET = Number(process.env.TETHER_FLEET_DEVICES || 10000);
const LIVE = 'gw-live';

let hub;
let browser;
let page;
let dev;

before(async () => {
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [LIVE] });
  execFileSync(hubBin, ['--config', hub.configFile, '--add-devices', String(FLEET), '--device-prefix', 'fleet-',
    '--tokens-out', join(hub.dir, 'fleet-tokens')], { stdio: 'pipe' });
  ({ browser, page } = await openBrowser(hub, { width: 1280, height: 900 }));
  dev = await connectDevice(hub, LIVE);
  dev.send({ hdr: { proto: PROTO.MONITORING, typ: 'status' },
    body: encodeBody({ state: 'online', device_id: LIVE, version: '9.9.9', boot_id: 'b', uptime_s: 1, inventory: {} }) });
  dev.send({ hdr: { proto: PROTO.MONITORING, typ: 'alert' },
    body: encodeBody({ seq: 1, ts: Date.now(), id: 'hot', severity: 'major', state: 'raised', summary: 'hot', details: {} }) });
  assert.equal(decodeBody((await dev.next({ proto: PROTO.MONITORING, typ: 'ack' })).body).seq, 1);
});

after(async () => {
  if (dev) await dev.close();
  if (browser) await browser.close();
  if (hub) await hub.stop();
});

const rows = () => page.$$eval('[data-testid="device-row"]', (els) => els.map((e) => e.dataset.device));
const countText = async () => (await page.textContent('[data-testid="device-count"]')).trim();
async function waitCount(re) {
  await page.waitForFunction((src) => new RegExp(src).test(
    document.querySelector('[data-testid="device-count"]')?.textContent || ''), re.source);
}

test(`the list of ${FLEET + 1} devices shows one page, and search, filters and paging go to the hub`, async () => {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  const t0 = Date.now();
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await waitCount(new RegExp(`^1–50 of ${FLEET + 1}$`));
  console.log(`first page of ${FLEET + 1} devices rendered ${Date.now() - t0} ms after login`);
  assert.equal((await rows()).length, 50);
  assert.equal((await rows())[0], 'fleet-00001');

  await page.click('[data-testid="device-next"]');
  await waitCount(new RegExp(`^51–100 of ${FLEET + 1}$`));
  assert.equal((await rows())[0], 'fleet-00051');

  const t1 = Date.now();
  await page.fill('[data-testid="device-search"]', 'FLEET-07777');
  await waitCount(/^1–1 of 1$/);
  console.log(`search answered ${Date.now() - t1} ms after typing (250 ms of it the typing pause)`);
  assert.deepEqual(await rows(), ['fleet-07777']);
  await page.screenshot({ path: join(artifacts, 'hub-device-list-search.png') });

  await page.fill('[data-testid="device-search"]', '');
  await waitCount(new RegExp(`^1–50 of ${FLEET + 1}$`));
  await page.selectOption('[data-testid="device-filter-online"]', 'true');
  await waitCount(/^1–1 of 1$/);
  assert.deepEqual(await rows(), [LIVE]);
  await page.selectOption('[data-testid="device-filter-online"]', 'false');
  await waitCount(new RegExp(`^1–50 of ${FLEET}$`));
  await page.selectOption('[data-testid="device-filter-online"]', '');
  await page.selectOption('[data-testid="device-filter-alerts"]', 'true');
  await waitCount(/^1–1 of 1$/);
  assert.deepEqual(await rows(), [LIVE]);
  assert.match(await page.textContent(`[data-device="${LIVE}"] [data-testid="open-alerts"]`), /1 open alert/);
  await page.selectOption('[data-testid="device-filter-alerts"]', '');
  await page.selectOption('[data-testid="device-filter-version"]', '9.9.9');
  await waitCount(/^1–1 of 1$/);
  await page.fill('[data-testid="device-search"]', 'no-such-thing');
  await page.waitForSelector('[data-testid="device-list-empty"]');
  assert.equal(await countText(), '0 devices');
  await page.screenshot({ path: join(artifacts, 'hub-device-list-empty.png') });
});
