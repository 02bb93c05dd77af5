// Config end to end without a browser: a real tether-hub, a real tetherd on a
// private dbus-daemon, and `tetherctl config watch` as the local app. A config
// pushed through the hub's API while tetherd is down is delivered when it
// connects, reaches the watcher as a Changed signal, and survives a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, login, request } from './helpers.mjs';
import {
  startBus, startTetherd, startWatch, changes, tetherdBin, tetherctlBin,
} from './gateway.mjs';

const DEVICE = 'gw-config';
let hub;
let bus;
let cookie;
let tetherd;
let watch;

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  assert.ok(existsSync(tetherctlBin), `tetherctl not built at ${tetherctlBin} (set TETHERCTL_BIN)`);
  hub = await startHub({ devices: [DEVICE] });
  bus = await startBus(hub.dir);
  cookie = await login(hub);
});

after(async () => {
  if (watch) await watch.stop();
  if (tetherd) await tetherd.stop();
  if (bus) await bus.stop();
  if (hub) await hub.stop();
});

const path = `/api/devices/${DEVICE}/config`;
const getConfig = async () => (await request(hub, 'GET', path, { cookie })).json;

// Polls the hub's view of the device's config until `ok` holds.
async function until(ok, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await getConfig();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`hub never showed ${what}: ${JSON.stringify(last)}\nhub:\n${hub.log()}\ntetherd:\n${tetherd && tetherd.output}`);
}

test('a push while tetherd is down is delivered when it connects', async () => {
  const stateDir = join(hub.dir, 'device-state');
  // The daemon has never run: the push waits at the hub.
  const res = await request(hub, 'POST', path, {
    cookie, body: { values: { interval_s: 30, name: 'pump-7', limits: { max: 9.5, tags: ['a', 'b'] } } },
  });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.version, 1);
  assert.equal(res.json.state, 'pending');
  assert.equal(res.json.online, false);
  const pending = await getConfig();
  assert.equal(pending.state, 'pending');
  assert.equal(pending.reported, null);

  tetherd = startTetherd(hub, DEVICE, bus, stateDir);
  await tetherd.waitFor(/io\.tether\.Gateway1|connected/);
  watch = await startWatch(bus);
  const applied = await until((c) => c.state === 'applied', 'applied');
  assert.equal(applied.version, 1);
  assert.equal(applied.reported.version, 1);
  assert.deepEqual(applied.reported.values.limits, { max: 9.5, tags: ['a', 'b'] });

  // On the gateway: Get over D-Bus answers the pushed values.
  const got = execFileSync(tetherctlBin, ['--bus=session', 'config', 'get', '--json'], { env: { ...process.env, ...bus.env } }).toString();
  assert.equal(JSON.parse(got).version, 1);
  assert.equal(JSON.parse(got).values.name, 'pump-7');

  // A second push while it runs reaches the watcher as a Changed signal.
  const second = await request(hub, 'POST', path, {
    cookie, body: { values: { interval_s: 60, name: null }, expect_version: 1 },
  });
  assert.equal(second.status, 202, second.text);
  assert.equal(second.json.version, 2);
  await until((c) => c.state === 'applied' && c.version === 2, 'version 2 applied');
  await watch.waitFor(/"version":2/);
  const seen = changes(watch).find((c) => c.version === 2);
  assert.deepEqual(seen.values, { interval_s: 60 });
  assert.deepEqual(seen.removed, ['name']);

  // Down again: a push waits, and the restarted daemon gets it and keeps both.
  await tetherd.stop();
  await until((c) => !c.online, 'the device offline');
  const third = await request(hub, 'POST', path, { cookie, body: { values: { mode: 'eco' } } });
  assert.equal(third.json.version, 3);
  assert.equal((await getConfig()).state, 'pending');
  tetherd = startTetherd(hub, DEVICE, bus, stateDir);
  const done = await until((c) => c.state === 'applied' && c.version === 3, 'version 3 applied');
  assert.deepEqual(done.reported.values, { interval_s: 60, limits: { max: 9.5, tags: ['a', 'b'] }, mode: 'eco' });
  await watch.waitFor(/"version":3/);
  assert.deepEqual(changes(watch).find((c) => c.version === 3).values, { mode: 'eco' });

  const history = (await request(hub, 'GET', `${path}/history`, { cookie })).json;
  assert.deepEqual(history.map((v) => [v.version, v.state, v.pushed_by]),
    [[3, 'applied', 'admin'], [2, 'applied', 'admin'], [1, 'applied', 'admin']]);
});

test('the API refuses bad bodies with a sentence', async () => {
  const cases = [
    ['{"values": {"a": 1', /not complete JSON/],
    ['{"values": [1]}', /values must be a JSON object/],
    ['{"values": {}, "replace": 1}', /replace must be true or false/],
  ];
  for (const [body, says] of cases) {
    const res = await request(hub, 'POST', path, { cookie, body });
    assert.equal(res.status, 400, body);
    assert.match(res.json.error, says);
  }
  const huge = await request(hub, 'POST', path, { cookie, body: { values: { x: 'y'.repeat(20000) } } });
  assert.equal(huge.status, 413);
});
