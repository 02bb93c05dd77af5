// Two tether-hub instances on one NATS bus (nats-server from Debian, on a private
// port, started and stopped here), sharing one state dir: a real tetherd on
// instance B and an operator on instance A opening a shell on it; a device that
// reconnects to A replacing its link on B; a fleet's presence; the bus restarted
// under the hubs, which recover without being restarted themselves, and a third
// instance started while it is down; that instance killed with -9; an instance
// stopping cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  hubBin, tempDir, makeCerts, hashPassword, addDevice, login, connectOperator, connect,
  devicePath, PROTO, text, request, freePort,
} from './helpers.mjs';
import { Child, startGateway } from './gateway.mjs';

const SHELL = PROTO.SHELL;
const FLEET = 60;
const natsBin = process.env.NATS_SERVER_BIN || '/usr/sbin/nats-server';

let dir;
let nats;
let natsPort;
let hubA;
let hubB;
let hubC;
let gateway;
const password = 'pw-' + Math.random().toString(36).slice(2);
const tokens = {};

// nats-server on natsPort; max_payload leaves room for a 1 MiB device message plus
// the hubs' envelope (docs/hub.md).
async function startNats() {
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${natsPort}\nmax_payload: 2MB\n`);
  const child = new Child(natsBin, ['-c', conf]);
  await child.waitFor(/Server is ready/);
  return child;
}

// One hub instance: the shared config (port 0: a port of its own), its own process.
async function startInstance(name, { waitForBus = true } = {}) {
  const child = new Child(hubBin, ['--config', join(dir, 'hub.conf'), '--log.level', 'debug']);
  const [, port] = await child.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
  if (waitForBus) await child.waitFor(/bus: connected/);
  return {
    name, child, dir, port: Number(port), password, tokens,
    ca: readFileSync(join(dir, 'ca.pem')), caFile: join(dir, 'ca.pem'),
    log: () => child.output,
  };
}

// How many times `pattern` appears in `hub`'s log.
const count = (hub, pattern) => (hub.child.output.match(new RegExp(pattern, 'g')) || []).length;

// Connects an operator to `device` through `hub`, retrying while that instance has
// not heard of the device yet (404/409 before the presence news arrives).
async function operatorOn(hub, device, ms = 10000) {
  const cookie = await login(hub);
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await connectOperator(hub, cookie, device);
    } catch (e) {
      if (!e.status || Date.now() > end) throw new Error(`${e.message}\n${hub.name}:\n${hub.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function openShell(op, sid) {
  op.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  const answer = await op.next({ proto: SHELL, typ: 'new', sid });
  assert.equal(answer.hdr.props.status, 1, text(answer.body ?? []));
}

// Types `line` into the shell and waits for `want` in its output.
async function expectEcho(op, sid, line, want) {
  op.send({ hdr: { proto: SHELL, typ: 'shell', sid }, body: `${line}\n` });
  let seen = '';
  while (!seen.includes(want)) seen += text((await op.next({ proto: SHELL, typ: 'shell', sid })).body);
}

before(async () => {
  dir = tempDir('tether-cluster-test-');
  natsPort = await freePort();
  nats = await startNats();
  const certs = makeCerts(dir);
  writeFileSync(join(dir, 'hub.conf'), [
    '[listen]', 'address = 127.0.0.1', 'port = 0',
    '[tls]', `cert-file = ${certs.cert}`, `key-file = ${certs.key}`,
    '[hub]', `state-dir = ${join(dir, 'state')}`, 'ping-interval = 5',
    '[operator]', 'username = admin', `password-hash = ${hashPassword(password)}`,
    '[bus]', `url = nats://127.0.0.1:${natsPort}`, '',
  ].join('\n'));
  // Registered once: both instances authenticate devices from the shared state dir.
  for (const id of ['gw1', 'gw2']) tokens[id] = addDevice(join(dir, 'hub.conf'), id, join(dir, `${id}.token`));
  execFileSync(hubBin, ['--config', join(dir, 'hub.conf'), '--add-devices', String(FLEET),
    '--device-prefix', 'fleet-', '--tokens-out', join(dir, 'fleet-tokens')], { stdio: 'pipe' });
  hubA = await startInstance('A');
  hubB = await startInstance('B');
});

after(async () => {
  if (gateway) await gateway.stop();
  for (const hub of [hubA, hubB, hubC]) if (hub) await hub.child.stop();
  if (nats) await nats.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let shellOp;

test('an operator on instance A drives a shell on a tetherd connected to instance B', async () => {
  gateway = await startGateway(hubB, 'gw1');
  await gateway.ready();
  shellOp = await operatorOn(hubA, 'gw1');
  await openShell(shellOp, 's1');
  await expectEcho(shellOp, 's1', 'echo cluster-$((40+2))', 'cluster-42');
  assert.match(hubB.log(), /device gw1 connected/);
  assert.doesNotMatch(hubA.log(), /device gw1 connected/);
});

test('a device reconnecting to instance A replaces its link on instance B', async () => {
  const auth = { Authorization: `Bearer ${tokens.gw2}` };
  const first = await connect(hubB, devicePath, auth);
  const watcher = await operatorOn(hubA, 'gw2');
  const second = await connect(hubA, devicePath, auth);
  const closed = await first.waitClosed();
  assert.equal(closed.code, 1000);
  // A's operator was attached through B's link: it is told and closed.
  const gone = await watcher.waitClosed();
  assert.equal(gone.code, 1001);
  // The other way round now: an operator on B reaches the device on A.
  const op = await operatorOn(hubB, 'gw2');
  op.send({ hdr: { proto: SHELL, typ: 'new', sid: 'x', props: { terminal_width: 80, terminal_height: 24 } } });
  const seen = await second.next({ proto: SHELL, typ: 'new', sid: 'x' });
  assert.equal(seen.hdr.props.user_id, 'admin');
  second.send({ hdr: { proto: SHELL, typ: 'new', sid: 'x', props: { status: 1 } } });
  await op.next({ proto: SHELL, typ: 'new', sid: 'x' });
  second.send({ hdr: { proto: SHELL, typ: 'shell', sid: 'x', props: { status: 1 } }, body: 'from A\n' });
  assert.equal(text((await op.next({ proto: SHELL, typ: 'shell', sid: 'x' })).body), 'from A\n');
  await op.close();
  await second.close();
});

// Threads of a running process (Linux).
const threadsOf = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m)[1]);

test('a fleet on instance B is online on instance A, without a thread per device', async () => {
  const fleetTokens = readFileSync(join(dir, 'fleet-tokens'), 'utf8').trim().split('\n').map((l) => l.split(' ')[1]);
  const cookie = await login(hubA);
  const onlineOnA = async () => (await request(hubA, 'GET', `/api/devices?q=fleet-&online=true&limit=500`, { cookie })).json.total;
  const peers = await Promise.all(fleetTokens.map((token) => connect(hubB, devicePath, { Authorization: `Bearer ${token}` })));
  const until = async (want) => {
    const end = Date.now() + 10000;
    while ((await onlineOnA()) !== want) {
      if (Date.now() > end) throw new Error(`A sees ${await onlineOnA()} of ${want} online\nA:\n${hubA.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await until(FLEET);
  // A subscription per device, but libnats's delivery pool rather than a
  // dispatcher thread each (which would be FLEET threads more).
  assert.ok(threadsOf(hubB.child.proc.pid) < 30, `${threadsOf(hubB.child.proc.pid)} threads`);
  await Promise.all(peers.map((p) => p.close()));
  await until(0);
});

test('NATS restarted: both hubs reconnect and the open shell keeps working', async () => {
  const before = [count(hubA, 'bus: reconnected'), count(hubB, 'bus: reconnected')];
  await nats.stop();
  await Promise.all([hubA, hubB].map((hub) => hub.child.waitFor(/bus: connection lost/, 10000)));
  // An instance may start while the bus is down; it joins when the bus is back.
  hubC = await startInstance('C', { waitForBus: false });
  assert.match(hubC.log(), /is not reachable yet; retrying in the background/);
  nats = await startNats();
  await hubC.child.waitFor(/bus: connected/);
  const end = Date.now() + 15000;
  while (count(hubA, 'bus: reconnected') === before[0] || count(hubB, 'bus: reconnected') === before[1]) {
    if (Date.now() > end) throw new Error(`no reconnection\nA:\n${hubA.log()}\nB:\n${hubB.log()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await expectEcho(shellOp, 's1', 'echo again-$((6*7))', 'again-42');
  // And a new operator session crosses the bus too.
  const op = await operatorOn(hubA, 'gw1');
  await openShell(op, 's2');
  await expectEcho(op, 's2', 'echo fresh-$((7*6))', 'fresh-42');
  await op.close();
  await shellOp.close();
});

test('an instance killed with -9: its devices go offline on the others after its heartbeats stop', async () => {
  try {
    // C joined late: it learned from B's lease list where gw1 is.
    await (await operatorOn(hubC, 'gw1')).close();
    const device = await connect(hubC, devicePath, { Authorization: `Bearer ${tokens.gw2}` });
    const op = await operatorOn(hubA, 'gw2');
    const killed = Date.now();
    hubC.child.proc.kill('SIGKILL');
    const gone = await op.waitClosed(15000);
    assert.equal(gone.code, 1001);
    // Three missed 1 s heartbeats, give or take a tick.
    assert.ok(Date.now() - killed < 8000, `${Date.now() - killed} ms`);
    assert.match(hubA.log(), /instance \w+ is silent; its 1 devices are offline here/);
    const cookie = await login(hubA);
    await assert.rejects(connectOperator(hubA, cookie, 'gw2'), (e) => e.status === 409);
    await device.waitClosed();
  } finally {
    await hubC.child.stop('SIGKILL');
  }
});

test('an instance that stops tells the others its devices are gone', async () => {
  const op = await operatorOn(hubA, 'gw1');
  assert.equal(await hubB.child.stop(), 0);
  const gone = await op.waitClosed();
  assert.equal(gone.code, 1001);
  // A no longer offers the device (409: offline).
  const cookie = await login(hubA);
  await assert.rejects(connectOperator(hubA, cookie, 'gw1'), (e) => e.status === 409);
});

test('an instance on the bus exits cleanly and promptly on SIGTERM', async () => {
  const started = Date.now();
  assert.equal(await hubA.child.stop(), 0);
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  assert.doesNotMatch(hubA.log(), /did not finish closing/);
});
