// Three tether-hub instances behind HAProxy (TCP, TLS passed through) on one
// NATS server, as scripts/cluster-demo runs them: simulated devices and operators
// all come in on the balancer's one port. An operator on one instance pushes a
// config to a device whose link is on another and sees it applied; operators on
// every instance drive shells on devices of every instance. Store: the shared
// state dir, or PostgreSQL (TETHER_CLUSTER_STORE=postgresql or TETHER_STORE_URL,
// cluster_rig.mjs).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  startCluster, runSim, devicesOn, until, operatorFrom, openShell, echo, simBin,
} from './cluster_rig.mjs';

const DEVICES = 30;
let cluster;
let sim;

before(async () => {
  cluster = await startCluster({ devices: DEVICES });
  sim = runSim(cluster, ['--seed', '11']);
  await until(`${DEVICES} devices online`, () =>
    cluster.hubs.reduce((n, h) => n + devicesOn(h).size, 0) === DEVICES, 30000);
});

after(async () => {
  if (sim) await sim.stop();
  if (cluster) await cluster.stop();
});

// A device whose link is on an instance other than `hub`.
function deviceNotOn(hub) {
  const other = cluster.hubs.find((h) => h !== hub && devicesOn(h).size > 0);
  assert.ok(other, `every device is on ${hub.name}: ${cluster.hubs.map((h) => devicesOn(h).size)}`);
  return { device: [...devicesOn(other)][0], on: other };
}

test('the balancer spreads the simulated fleet over the three instances', () => {
  const counts = cluster.hubs.map((h) => devicesOn(h).size);
  assert.ok(counts.every((n) => n > 0), `devices per instance: ${counts}`);
  const all = cluster.hubs.flatMap((h) => [...devicesOn(h)]);
  assert.equal(new Set(all).size, DEVICES, 'a device on two instances at once');
});

test('a config pushed on one instance reaches a device whose link is on another', async () => {
  const op = await operatorFrom(cluster, '127.0.0.1');
  const { device, on } = deviceNotOn(op.hub);
  const path = `/api/devices/${device}/config`;
  const pushed = await op.request('POST', path, { body: { values: { interval_s: 15, site: 'north' } } });
  assert.equal(pushed.status, 202, pushed.text);
  assert.equal(pushed.json.online, true, 'the pushing instance sees the device online');
  const applied = await until('the push applied', async () => {
    const got = (await op.request('GET', path)).json;
    return got.state === 'applied' && got;
  }, 15000);
  assert.equal(applied.version, pushed.json.version);
  assert.deepEqual(applied.reported.values, { interval_s: 15, site: 'north' });
  // It went over the bus: the link is on `on`, the operator's API call on op.hub.
  assert.match(on.log(), new RegExp(`device ${device} connected`));
  assert.doesNotMatch(op.hub.log(), new RegExp(`device ${device} connected`));
});

test('operators on every instance echo through shells on devices of every instance', async () => {
  // One operator per instance: try source addresses until each instance has one.
  const ops = new Map();
  for (let i = 2; ops.size < cluster.hubs.length && i < 200; i++) {
    const op = await operatorFrom(cluster, `127.0.2.${i}`);
    if (!ops.has(op.hub)) ops.set(op.hub, op);
  }
  assert.equal(ops.size, cluster.hubs.length, 'no source address lands on some instance');
  for (const [opHub, op] of ops) {
    for (const devHub of cluster.hubs) {
      const device = [...devicesOn(devHub)][0];
      const ws = await op.attach(device);
      const sid = `s-${opHub.name}-${devHub.name}`;
      await openShell(ws, sid);
      const line = `echo ${sid}\n`;
      await echo(ws, sid, line);
      await ws.close();
      assert.match(opHub.log(), new RegExp(`operator admin attached to device ${device}$`, 'm'));
    }
  }
});

test('tether-sim refuses source addresses that are not this machine\'s', () => {
  const r = spawnSync(simBin, ['--url', `wss://localhost:${cluster.port}`, '--tokens', cluster.tokensFile,
    '--source-addresses', '127.0.1.1-127.0.1.3', '--devices', '1',
    '--duration', '0.1', '--quiet', '--ca-file', cluster.caFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const bad = spawnSync(simBin, ['--url', 'wss://localhost:1', '--tokens', cluster.tokensFile,
    '--source-addresses', '192.0.2.1'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /option '--source-addresses': cannot dial from 192\.0\.2\.1/);
});
