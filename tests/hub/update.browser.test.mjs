// Software update end to end, in a real browser (Debian's chromium through
// playwright-core) against a real tether-hub and a real tetherd on a private D-Bus
// bus: the operator offers an artifact with consent from the device's Updates tab;
// tetherd downloads it from the hub (HTTPS, the offer's grant), checks size, SHA-256
// and the hub's Ed25519 signature, emits ConsentRequested on the bus (seen by
// dbus-monitor); a local client consents (`tetherctl update respond`); the installer
// runs; the page shows the progress live and the outcome with the installer's
// output; the installed file is byte-identical. Then the fleet page offers a second
// artifact to the device and counts it per state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync, readFileSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { startHub, requireWeb, repo, tempDir, openBrowser } from './helpers.mjs';

const artifacts = process.env.TETHER_ARTIFACTS || join(repo, 'tests/artifacts');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const tetherdBin = process.env.TETHERD_BIN || join(repo, 'build/daemon/tetherd');
const tetherctlBin = process.env.TETHERCTL_BIN || join(dirname(dirname(tetherdBin)), 'dbus/tetherctl/tetherctl');
const DEVICE = 'gw-upd';

let hub;
let dir;
let bus;
let busAddress;
let monitor;
let monitorLog = '';
let tetherd;
let tetherdLog = '';
let browser;
let page;
let payload;

// A private dbus-daemon (session type, a socket in `dir`); resolves its address.
function startBus() {
  const config = join(dir, 'bus.conf');
  writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${join(dir, 'bus')}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`);
  bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`dbus-daemon printed no address: ${out}`)), 10000);
    bus.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
  });
}

async function until(what, check, timeoutMs = 20000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\ntetherd:\n${tetherdLog}\nmonitor:\n${monitorLog}\nhub:\n${hub.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  assert.ok(existsSync(tetherctlBin), `tetherctl not built at ${tetherctlBin} (set TETHERCTL_BIN)`);
  assert.ok(existsSync(chromiumPath), `no chromium at ${chromiumPath}`);
  mkdirSync(artifacts, { recursive: true });
  dir = tempDir('tether-update-e2e-');
  const arts = join(dir, 'artifacts');
  mkdirSync(arts);
  payload = randomBytes(300 * 1024 + 11);
  writeFileSync(join(arts, 'gateway-app_2.0.bin'), payload);
  writeFileSync(join(arts, 'gateway-app_2.1.bin'), randomBytes(4096));
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'sign.key')]);
  execFileSync('openssl', ['pkey', '-in', join(dir, 'sign.key'), '-pubout', '-out', join(dir, 'sign.pub')]);
  const installer = join(dir, 'installer');
  writeFileSync(installer, `#!/bin/sh\ncp "$1" '${join(dir, 'installed')}'\necho "installed version $TETHER_UPDATE_VERSION of $TETHER_UPDATE_SIZE bytes"\n`);
  chmodSync(installer, 0o755);

  hub = await startHub({
    devices: [DEVICE],
    extra: `[update]\nartifact-dir = ${arts}\nsigning-key = ${join(dir, 'sign.key')}\n`,
  });
  busAddress = await startBus();
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress };
  monitor = spawn('dbus-monitor', ['--address', busAddress,
    "type='signal',interface='io.tether.Update1',member='ConsentRequested'"], { stdio: ['ignore', 'pipe', 'pipe'], env });
  monitor.stdout.on('data', (d) => { monitorLog += d; });
  tetherd = spawn(tetherdBin, [
    `--server.url=wss://localhost:${hub.port}`,
    `--server.token-file=${join(hub.dir, `${DEVICE}.token`)}`,
    `--server.ca-file=${hub.caFile}`,
    '--dbus.bus=session',
    `--device.state-dir=${join(dir, 'device-state')}`,
    `--device.id=${DEVICE}`,
    `--update.installer=${installer}`,
    `--update.public-key=${join(dir, 'sign.pub')}`,
    '--update.download-backoff=0.05',
  ], { stdio: ['ignore', 'pipe', 'pipe'], env });
  tetherd.stdout.on('data', (d) => { tetherdLog += d; });
  tetherd.stderr.on('data', (d) => { tetherdLog += d; });

  ({ browser, page } = await openBrowser(hub, { width: 1280, height: 900 }));
});

after(async () => {
  if (browser) await browser.close();
  for (const p of [tetherd, monitor, bus]) {
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await exited;
    }
  }
  if (hub) await hub.stop();
});

const state = () => page.getAttribute('[data-testid="update-current"]', 'data-state');

test('offer with consent from the UI, consent from a local D-Bus client, success shown live', async () => {
  await page.goto(`${hub.url}/`);
  await page.waitForSelector('[data-testid="login-form"]');
  await page.fill('[data-testid="username"]', 'admin');
  await page.fill('[data-testid="password"]', hub.password);
  await page.click('[data-testid="login-form"] button[type="submit"]');
  const row = `[data-testid="device-row"][data-device="${DEVICE}"]`;
  await page.waitForSelector(`${row} .badge.online`, { timeout: 20000 });
  await page.click(`${row} a`);
  await page.click('[data-tab="updates"]');
  await page.waitForSelector('[data-testid="update-artifact"] option[value="gateway-app_2.0.bin"]:not([disabled])', { state: 'attached' });
  await page.selectOption('[data-testid="update-artifact"]', 'gateway-app_2.0.bin');
  await page.fill('[data-testid="update-version"]', '2.0');
  await page.check('[data-testid="update-consent"]');
  await page.click('[data-testid="update-offer"]');

  // Downloaded from the hub, verified with the hub's signature, then it waits.
  await page.waitForSelector('[data-testid="update-current"][data-state="awaiting-consent"]', { timeout: 20000 });
  await page.waitForSelector('[data-testid="update-accept"]');
  await page.screenshot({ path: join(artifacts, 'hub-update-consent.png') });
  const res = await page.evaluate(() => fetch(`/api/devices/${'gw-upd'}/updates`).then((r) => r.json()));
  const id = res[0].id;
  const seen = res[0].events.map((e) => e.state);
  assert.ok(seen.includes('downloading') && seen.includes('verifying'), seen.join(','));
  // The ConsentRequested signal went out on the bus.
  await until('ConsentRequested on the bus', () => monitorLog.includes('member=ConsentRequested') && monitorLog.includes(`"${id}"`));
  assert.match(monitorLog, /string "2\.0"/);

  // Consent from a local app: tetherctl over the private bus.
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: busAddress };
  execFileSync(tetherctlBin, ['--bus', 'session', 'update', 'respond', id, 'yes'], { env });

  await page.waitForSelector('[data-testid="update-current"][data-state="success"]', { timeout: 20000 });
  assert.match(await page.textContent('[data-testid="update-output"]'), new RegExp(`installed version 2\\.0 of ${payload.length} bytes`));
  assert.equal(await state(), 'success');
  const events = await page.textContent('[data-testid="update-events"]');
  assert.match(events, /installing/);
  assert.ok(readFileSync(join(dir, 'installed')).equals(payload), 'the installed file is byte-identical');
  await page.screenshot({ path: join(artifacts, 'hub-update-success.png') });
  // The hub acknowledged the final state after storing it.
  await until('the ack', async () => (await page.evaluate(() => fetch('/api/devices/gw-upd/updates').then((r) => r.json())))[0].acked);
});

test('the fleet page offers one artifact to the chosen device and counts it per state', async () => {
  await page.goto(`${hub.url}/#/updates`);
  await page.waitForSelector(`[data-testid="fleet-device"][data-device="${DEVICE}"]`);
  await page.waitForSelector('[data-testid="fleet-artifact"] option[value="gateway-app_2.1.bin"]:not([disabled])', { state: 'attached' });
  await page.selectOption('[data-testid="fleet-artifact"]', 'gateway-app_2.1.bin');
  await page.check(`[data-testid="fleet-device"][data-device="${DEVICE}"]`);
  await page.click('[data-testid="fleet-offer"]');
  await page.waitForSelector('[data-testid="fleet-counts"] .update-count[data-state="success"]', { timeout: 20000 });
  assert.match(await page.textContent('[data-testid="fleet-counts"]'), /success\s*1/);
  await page.screenshot({ path: join(artifacts, 'hub-update-fleet.png') });
});
