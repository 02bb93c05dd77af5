// The Config view in a real browser (Debian's chromium, headless, through
// playwright-core) against a real tether-hub and a real tetherd on a private
// dbus-daemon: a value typed into the hub's config editor reaches a
// `tetherctl config watch` on the gateway as a Changed signal, the view shows the
// version go from pending to applied, and the history names who pushed it. The
// editor refuses what the hub would refuse before anything is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, requireWeb, repo, openBrowser } from './helpers.mjs';
import {
  startBus, startTetherd, startWatch, changes, tetherdBin, tetherctlBin,
} from './gateway.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const DEVICE = 'gw-conf-ui';

let hub;
let bus;
let tetherd;
let watch;
let browser;
let page;

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  assert.ok(existsSync(tetherctlBin), `tetherctl not built at ${tetherctlBin} (set TETHERCTL_BIN)`);
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  hub = await startHub({ devices: [DEVICE] });
  bus = await startBus(hub.dir);
  tetherd = startTetherd(hub, DEVICE, bus, join(hub.dir, 'device-state'));
  await tetherd.waitFor(/connected to/);
  watch = await startWatch(bus);

  ({ browser, page } = await openBrowser(hub, { width: 1280, height: 1000 }));
});

after(async () => {
  if (browser) await browser.close();
  if (watch) await watch.stop();
  if (tetherd) await tetherd.stop();
  if (bus) await bus.stop();
  if (hub) await hub.stop();
});

const stateIs = (state) => page.waitForSelector(`[data-testid="config-summary"] [data-testid="config-state"][data-state="${state}"]`);

test('a value typed into the config editor reaches tetherctl config watch on the gateway', async () => {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  await page.click(`[data-testid="device-row"][data-device="${DEVICE}"] a`);
  await page.click('[data-tab="config"]');
  await stateIs('none');
  // tetherd's `current` after its connect: version 0, nothing set.
  await page.waitForFunction(() =>
    /holds version 0/.test(document.querySelector('[data-testid="config-reported-version"]').textContent));

  // Checked before sending: not JSON, not an object, a null key.
  const editor = '[data-testid="config-editor"]';
  for (const [text, says] of [
    ['{"greeting": ', /Not valid JSON/],
    ['[1, 2]', /must be a JSON object/],
    ['{"gone": null}', /leave it out/],
  ]) {
    await page.fill(editor, text);
    assert.match(await page.textContent('[data-testid="config-check"]'), says);
    assert.equal(await page.isDisabled('[data-testid="config-push"]'), true);
  }

  const marker = `hello-${Math.random().toString(36).slice(2, 10)}`;
  await page.fill(editor, JSON.stringify({ greeting: marker, rate: 5, zones: [1, 2] }));
  assert.match(await page.textContent('[data-testid="config-check"]'), /ready to push/);
  await page.click('[data-testid="config-push"]');
  await stateIs('applied');
  assert.match(await page.textContent('[data-testid="config-version"]'), /version 1/);

  // On the gateway: the watcher printed the Changed signal with the typed value.
  await watch.waitFor(new RegExp(marker));
  const change = changes(watch).find((c) => c.version === 1);
  assert.deepEqual(change.values, { greeting: marker, rate: 5, zones: [1, 2] });
  assert.deepEqual(change.removed, []);

  await page.waitForSelector('[data-testid="config-history-row"][data-version="1"]');
  assert.equal((await page.textContent('[data-testid="config-history-row"][data-version="1"] [data-testid="config-history-by"]')).trim(), 'admin');
  await page.waitForFunction(() =>
    /holds version 1/.test(document.querySelector('[data-testid="config-reported-version"]').textContent));
  await page.screenshot({ path: join(artifacts, 'hub-config.png') });

  // Edit again: a removed key is announced as removed.
  await page.fill(editor, JSON.stringify({ greeting: `${marker}-2`, zones: [1, 2] }));
  await page.click('[data-testid="config-push"]');
  await page.waitForFunction(() => /version 2/.test(document.querySelector('[data-testid="config-version"]').textContent));
  await stateIs('applied');
  await watch.waitFor(/"version":2/);
  const second = changes(watch).find((c) => c.version === 2);
  assert.deepEqual(second.values, { greeting: `${marker}-2` });
  assert.deepEqual(second.removed, ['rate']);
});

test('a refusal by the device shows as an error with its reason', async () => {
  // Nested deeper than tetherd accepts, but within the hub's bound: restart it
  // with a smaller config.max-depth.
  await tetherd.stop();
  tetherd = startTetherd(hub, DEVICE, bus, join(hub.dir, 'device-state'), ['--config.max-depth=1']);
  await tetherd.waitFor(/connected to/);
  await page.fill('[data-testid="config-editor"]', JSON.stringify({ deep: { a: { b: 1 } } }));
  await page.click('[data-testid="config-push"]');
  await stateIs('error');
  assert.match(await page.textContent('[data-testid="config-reason"]'), /deeper than/);
  await page.screenshot({ path: join(artifacts, 'hub-config-error.png') });
});
