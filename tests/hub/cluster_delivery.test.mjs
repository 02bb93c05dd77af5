// Delivery across hub instances: everything an instance sends to a device whose
// link is on another instance reaches the device, all of it and in order, also
// when the device does not answer. Two tether-hub instances on one NATS bus, a
// fake device on B and an operator (API calls and a shell session) on A.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startCluster, until } from './cluster_rig.mjs';
import {
  connect, connectOperator, devicePath, login, request, PROTO, decodeBody, decodeProtoMsg, text,
} from './helpers.mjs';

const CMD = PROTO.COMMAND;
const SHELL = PROTO.SHELL;
const MAX_PENDING = 64;  // CommandService::kMaxPendingPerDevice
let cluster;
let hubA;
let hubB;
let device;
let deviceId;
let cookieA;

// Every message the device received, in order.
const received = [];
const receivedOf = (proto, typ) => received.filter((m) => m.hdr?.proto === proto && m.hdr?.typ === typ);

before(async () => {
  cluster = await startCluster({ instances: 2, haproxy: false, devices: 1 });
  [hubA, hubB] = cluster.hubs;
  cookieA = await login(hubA);
  const [line] = readFileSync(cluster.tokensFile, 'utf8').trim().split('\n');
  const [id, token] = line.split(' ');
  deviceId = id;
  device = await connect(hubB, devicePath, { Authorization: `Bearer ${token}` });
  device.ws.on('message', (data) => received.push(decodeProtoMsg(new Uint8Array(data))));
  await until(`A sees ${deviceId} online`, async () =>
    (await request(hubA, 'GET', `/api/devices/${deviceId}/command-targets`, { cookie: cookieA })).json?.online === true,
  10000, 50);
});

after(async () => {
  if (device) await device.close();
  if (cluster) await cluster.stop();
});

test('every command request made on A reaches the device on B, which does not answer', async () => {
  const ids = [];
  for (let n = 0; n < MAX_PENDING; n++) {
    const res = await request(hubA, 'POST', `/api/devices/${deviceId}/commands`,
      { cookie: cookieA, body: { target: 't', action: 'a', args: { n } } });
    assert.equal(res.status, 202, res.text);
    ids.push(res.json.id);
  }
  await until(`${MAX_PENDING} requests at the device`, () => receivedOf(CMD, 'request').length >= MAX_PENDING,
    10000, 50).catch(() => {});
  const got = receivedOf(CMD, 'request').map((m) => decodeBody(m.body).id);
  assert.deepEqual(got, ids, `the device received ${got.length} of ${ids.length}`);
  // The limit of waiting requests holds them all: one more is refused.
  const more = await request(hubA, 'POST', `/api/devices/${deviceId}/commands`,
    { cookie: cookieA, body: { target: 't', action: 'a', args: { n: -1 } } });
  assert.equal(more.status, 429, more.text);
});

test('a burst of shell input typed on A reaches the device on B, all of it, in order', async () => {
  const op = await connectOperator(hubA, cookieA, deviceId);
  const sid = 'burst';
  op.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  await device.next({ proto: SHELL, typ: 'new', sid }, 10000);
  device.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { status: 1 } } });
  await op.next({ proto: SHELL, typ: 'new', sid }, 10000);
  const lines = Array.from({ length: 500 }, (_, i) => `line ${i}\n`);
  for (const line of lines) op.send({ hdr: { proto: SHELL, typ: 'shell', sid }, body: line });
  const seen = () => receivedOf(SHELL, 'shell').filter((m) => m.hdr.sid === sid);
  await until('the whole burst at the device', () => seen().length >= lines.length, 10000, 50).catch(() => {});
  const got = seen().map((m) => text(m.body));
  assert.equal(got.length, lines.length, `the device received ${got.length} of ${lines.length}`);
  assert.deepEqual(got, lines);
  await op.close();
});

test('a burst sent on A while the device on B does not read reaches it once it reads again', async () => {
  const op = await connectOperator(hubA, cookieA, deviceId);
  const sid = 'stalled';
  op.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  await device.next({ proto: SHELL, typ: 'new', sid }, 10000);
  device.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { status: 1 } } });
  await op.next({ proto: SHELL, typ: 'new', sid }, 10000);
  // 6 MiB, under the hub's queue hard cap (8 MiB) but well over the socket
  // buffers: B's queue to the device fills while the device is not reading, and
  // must be written out as the socket drains, with no further sends to wake it.
  device.ws._socket.pause();
  const chunks = Array.from({ length: 384 }, (_, i) => `${String(i).padStart(5, '0')}${'x'.repeat(16379)}`);
  for (const chunk of chunks) op.send({ hdr: { proto: SHELL, typ: 'shell', sid }, body: chunk });
  await until('A took the burst', () => op.ws.bufferedAmount === 0, 10000, 20);
  device.ws._socket.resume();
  const seen = () => receivedOf(SHELL, 'shell').filter((m) => m.hdr.sid === sid);
  await until('the whole burst at the device', () => seen().length >= chunks.length, 15000, 50).catch(() => {});
  const got = seen().map((m) => text(m.body));
  assert.equal(got.length, chunks.length, `the device received ${got.length} of ${chunks.length}`);
  assert.ok(got.every((g, i) => g === chunks[i]), 'in order and intact');
  await op.close();
});

test('input typed on A reaches the device on B while it floods an operator too slow for its output', async () => {
  const op = await connectOperator(hubA, cookieA, deviceId);
  const sid = 'paused';
  op.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  await device.next({ proto: SHELL, typ: 'new', sid }, 10000);
  device.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { status: 1 } } });
  await op.next({ proto: SHELL, typ: 'new', sid }, 10000);
  // The operator stops reading and the device floods it: A's queue to the
  // operator passes its high-water mark and A asks B to stop reading the device
  // (that pause itself is hub_cluster_test's ASlowRemoteOperatorPausesTheDevice).
  op.ws._socket.pause();
  const output = `${'y'.repeat(16383)}\n`;
  const flood = 16 * 1024 * 1024;
  for (let sent = 0; sent < flood; sent += output.length) {
    device.send({ hdr: { proto: SHELL, typ: 'shell', sid, props: { status: 1 } }, body: output });
  }
  // Writes to the paused link go on.
  const lines = Array.from({ length: 100 }, (_, i) => `typed ${i}\n`);
  for (const line of lines) op.send({ hdr: { proto: SHELL, typ: 'shell', sid }, body: line });
  const seen = () => receivedOf(SHELL, 'shell').filter((m) => m.hdr.sid === sid);
  await until('the input at the device', () => seen().length >= lines.length, 10000, 50).catch(() => {});
  assert.deepEqual(seen().map((m) => text(m.body)), lines);
  // And the device is read again once the operator catches up.
  op.ws._socket.resume();
  await until('the flood read off the device', () => device.ws.bufferedAmount === 0, 30000, 50);
  const floodMessages = Math.ceil(flood / output.length);
  const atOperator = () => op.inbox.filter((m) => m.hdr?.typ === 'shell' && m.hdr?.sid === sid).length;
  await until('the flood at the operator, or the operator dropped',
    () => atOperator() >= floodMessages || op.closed, 15000, 50).catch(() => {});
  // The pause crosses the bus: B reads on for one round trip after A asked it to
  // stop, and what it read meanwhile may push A's queue to the operator past its
  // 8 MiB hard cap. So the operator gets the whole flood, or is dropped for not
  // reading; never a stall, never a silent gap.
  if (op.closed) {
    assert.deepEqual(op.closed, { code: 1008, reason: 'not reading' });
  } else {
    assert.equal(atOperator(), floodMessages);
  }
  if (!op.closed) await op.close();
});

test('config pushed on A, again and again, reaches the device on B up to its last version', async () => {
  const path = `/api/devices/${deviceId}/config`;
  let last;
  for (let i = 0; i < 20; i++) {
    const res = await request(hubA, 'POST', path, { cookie: cookieA, body: { values: { step: i } } });
    assert.ok(res.status >= 200 && res.status < 300, res.text);
    last = i;
  }
  // Each push may replace the one before it, but the last one must arrive.
  const sets = () => receivedOf(PROTO.CONFIG, 'set').map((m) => decodeBody(m.body));
  await until('the last config at the device', () => sets().some((b) => b.values?.step === last), 10000, 50)
    .catch(() => {});
  const got = sets();
  assert.ok(got.length > 0 && got[got.length - 1].values?.step === last, JSON.stringify(got));
  const versions = got.map((b) => b.version);
  assert.deepEqual(versions, [...versions].sort((x, y) => x - y), 'in order');
});
