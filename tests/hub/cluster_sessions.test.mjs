// File transfer and port forward across hub instances (issue #19): two
// tether-hub instances on one NATS bus, a real tetherd (private dbus-daemon) whose
// link is on instance B, and the operator on instance A. The operator tools are
// the real ones: `tether-hub cp` and `tether-hub forward` with an API token made on
// A, and the web UI's transfer code (hub/web/src/files.js) over an operator
// WebSocket to A. Last, B is killed with -9 while a download and a forward are
// open: both end with the reason on A's control channel, nothing hangs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, connect as tcpConnect } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, until } from './cluster_rig.mjs';
import {
  hubBin, login, request, connectOperator, PROTO, encodeBody, decodeBody, decodeProtoMsg, errorBody,
} from './helpers.mjs';
import { startGateway, tetherdBin, Child } from './gateway.mjs';
import { RoutedSession, downloadOn, uploadOn } from '../../hub/web/src/files.js';

const CONTROL = PROTO.CONTROL;
const FT = PROTO.FILE_TRANSFER;
const GONE = /stopped answering/;  // BusDevices::expire's reason

let cluster;
let hubA;
let hubB;
let gateway;
let deviceId;
let token;  // the CLI's API token
let cookieA;
let root;   // the device's filetransfer.root
let local;  // the operator's files
let echo;   // a TCP echo server on the device's loopback
let echoPort;
const children = [];

// `promise`, or a rejection after `ms` (the timer does not keep node alive).
function within(promise, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// `tether-hub ARGS` against instance A; resolves with {code, stdout, stderr}.
function cli(args) {
  return new Promise((resolve) => {
    const proc = spawn(hubBin, args, {
      env: { ...process.env, TETHER_HUB_URL: `https://localhost:${hubA.port}`, TETHER_HUB_TOKEN: token,
        TETHER_HUB_CA_FILE: cluster.caFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// `tether-hub forward` to the echo server through A; resolves once it listens.
async function startForward() {
  const child = new Child(hubBin, ['forward', deviceId, `0:127.0.0.1:${echoPort}`], {
    TETHER_HUB_URL: `https://localhost:${hubA.port}`, TETHER_HUB_TOKEN: token, TETHER_HUB_CA_FILE: cluster.caFile,
  });
  children.push(child);
  const [, port] = await child.waitFor(/forwarding 127\.0\.0\.1:(\d+) to /, 20000);
  return { child, port: Number(port) };
}

// Sends `data` on a new connection to 127.0.0.1:port and resolves with what comes
// back once as many bytes arrived.
function roundTrip(port, data) {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(port, '127.0.0.1');
    const parts = [];
    let got = 0;
    socket.on('data', (d) => {
      parts.push(d);
      got += d.length;
      if (got >= data.length) {
        socket.end();
        resolve(Buffer.concat(parts));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => { if (got < data.length) reject(new Error(`closed after ${got} of ${data.length} bytes`)); });
    socket.write(data);
  });
}

// An operator WebSocket to A for the web UI's transfer code: what files.js's
// FileLink does in the browser, over node's ws. open() resolves with an accepted
// RoutedSession.
async function webLink() {
  const peer = await connectOperator(hubA, cookieA, deviceId);
  const link = { sessions: new Map(), send: (msg) => peer.send(msg) };
  peer.ws.on('message', (data) => {
    const msg = decodeProtoMsg(new Uint8Array(data));
    const session = link.sessions.get(msg.hdr.sid);
    if (!session) return;
    if (msg.hdr.proto === CONTROL && msg.hdr.typ === 'accept') session.deliver(msg);
    else if (msg.hdr.proto === CONTROL && msg.hdr.typ === 'close') session.fail(new Error('closed'));
    else if (msg.hdr.proto === CONTROL && msg.hdr.typ === 'error') session.fail(new Error(decodeBody(msg.body).err));
    else if (msg.hdr.proto === FT) session.deliver(msg);
  });
  link.open = async (sid) => {
    const session = new RoutedSession(link, sid);
    link.sessions.set(sid, session);
    link.send({ hdr: { proto: CONTROL, typ: 'open', sid }, body: encodeBody({ versions: [1] }) });
    const accept = await session.next(15000);
    assert.ok(decodeBody(accept.body).protocols.includes(FT), 'the device offers file transfer');
    return session;
  };
  link.close = () => peer.close();
  return link;
}

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  cluster = await startCluster({ instances: 2, haproxy: false, devices: 1 });
  [hubA, hubB] = cluster.hubs;
  const [id, deviceToken] = readFileSync(cluster.tokensFile, 'utf8').trim().split('\n')[0].split(' ');
  deviceId = id;
  writeFileSync(join(cluster.dir, `${deviceId}.token`), `${deviceToken}\n`);
  root = join(cluster.dir, 'device-root');
  local = join(cluster.dir, 'local');
  mkdirSync(root);
  mkdirSync(local);
  echo = createServer((socket) => socket.pipe(socket));
  await new Promise((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = echo.address().port;
  // The device's link lands on B: startTetherd reads {port, dir, caFile}.
  gateway = await startGateway({ port: hubB.port, dir: cluster.dir, caFile: cluster.caFile }, deviceId, {
    args: [`--filetransfer.root=${root}`, `--portforward.allow=127.0.0.1:${echoPort}`],
  });
  cookieA = await login(hubA);
  await until(`A sees ${deviceId} online`, async () =>
    (await request(hubA, 'GET', `/api/devices/${deviceId}`, { cookie: cookieA })).json?.online === true, 10000, 50);
  assert.match(hubB.log(), new RegExp(`device ${deviceId} connected`));
  assert.doesNotMatch(hubA.log(), new RegExp(`device ${deviceId} connected`));
  // An API token for the CLI, made on A and used on A.
  const made = await request(hubA, 'POST', '/api/tokens', { cookie: cookieA, body: { label: 'cli', role: 'operator' } });
  assert.equal(made.status, 201, made.text);
  token = made.json.token;
});

after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  if (gateway) await gateway.stop();
  if (echo) echo.close();
  if (cluster) await cluster.stop();
});

test('tether-hub cp on A uploads to and downloads from the device on B, byte-identical', async () => {
  for (const size of [0, 300 * 1024 + 17]) {
    const data = randomBytes(size);
    const src = join(local, `up-${size}`);
    writeFileSync(src, data);
    const up = await cli(['cp', src, `${deviceId}:${root}/cp-${size}`]);
    assert.equal(up.code, 0, `upload ${size}: ${up.stderr}`);
    assert.ok(readFileSync(join(root, `cp-${size}`)).equals(data), `the uploaded ${size} B differ`);
    const dst = join(local, `down-${size}`);
    const down = await cli(['cp', `${deviceId}:${root}/cp-${size}`, dst]);
    assert.equal(down.code, 0, `download ${size}: ${down.stderr}`);
    assert.ok(readFileSync(dst).equals(data), `the downloaded ${size} B differ`);
  }
  // Nothing half-written left on the device.
  assert.deepEqual(readdirSync(root).sort(), ['cp-0', `cp-${300 * 1024 + 17}`]);
});

test('the web UI\'s transfer code through A moves a file both ways, byte-identical', async () => {
  const data = randomBytes(400 * 1024 + 5);
  const link = await webLink();
  try {
    const up = await link.open('web-up');
    await uploadOn(up, new Blob([data]), `${root}/web`, 0o640, () => {});
    up.close();
    assert.ok(readFileSync(join(root, 'web')).equals(data), 'the uploaded bytes differ');
    assert.equal(statSync(join(root, 'web')).mode & 0o777, 0o640);
    const down = await link.open('web-down');
    const blob = await downloadOn(down, `${root}/web`, () => {});
    down.close();
    assert.ok(Buffer.from(await blob.arrayBuffer()).equals(data), 'the downloaded bytes differ');
  } finally {
    await link.close();
  }
});

test('tether-hub forward on A reaches a TCP server on the device\'s loopback, connections at once', async () => {
  const { child, port } = await startForward();
  try {
    const payloads = Array.from({ length: 6 }, (_, i) => randomBytes(1 + i * 60000));
    const echoed = await Promise.all(payloads.map((p) => roundTrip(port, p)));
    echoed.forEach((e, i) => assert.ok(e.equals(payloads[i]), `connection ${i}: ${e.length} of ${payloads[i].length} B, or differ`));
  } finally {
    assert.equal(await child.stop('SIGTERM'), 0, child.output);
  }
});

test('the audit trail on A has the transfers and the forward', async () => {
  await until('the audit events', async () => {
    const res = await request(hubA, 'GET', '/api/audit?format=jsonl&limit=1000', { cookie: cookieA });
    const events = res.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const has = (action, detail) => events.some((e) => e.action === action && e.device === deviceId && detail.test(e.detail));
    return has('file.put', /path=.*\/web/) && has('file.get', /path=.*\/cp-/)
      && has('forward.open', new RegExp(`to=127\\.0\\.0\\.1:${echoPort}`));
  }, 10000, 100);
});

// Last: it kills instance B.
test('B killed with -9: an open download and an open forward on A end with the reason, not a hang', async () => {
  const big = randomBytes(2 * 1024 * 1024);
  writeFileSync(join(root, 'big'), big);

  // A download that the operator does not ack: the device stops at its window
  // and the session stays open.
  const op = await connectOperator(hubA, cookieA, deviceId);
  op.send({ hdr: { proto: CONTROL, typ: 'open', sid: 'dl' }, body: encodeBody({ versions: [1] }) });
  await op.next({ proto: CONTROL, typ: 'accept', sid: 'dl' }, 15000);
  op.send({ hdr: { proto: FT, typ: 'get_file', sid: 'dl' }, body: encodeBody({ path: join(root, 'big') }) });
  await op.next({ proto: FT, typ: 'file_chunk', sid: 'dl' }, 15000);

  // A forward with a connection open in it.
  const { child, port } = await startForward();
  // 'close' rather than 'exit': its output is all read by then.
  const forwardDone = new Promise((resolve) => child.proc.once('close', resolve));
  const socket = tcpConnect(port, '127.0.0.1');
  const socketClosed = new Promise((resolve) => socket.on('close', resolve));
  socket.on('error', () => {});
  socket.write('before the kill');
  await new Promise((resolve) => socket.once('data', resolve));

  hubB.child.proc.kill('SIGKILL');

  // The download's session ends with the reason, then the socket's control error
  // and the close.
  const closed = await within(op.closedPromise, 20000, 'the operator\'s socket closed');
  assert.equal(closed.code, 1001);
  assert.match(closed.reason, GONE);
  const controls = op.inbox.filter((m) => m.hdr?.proto === CONTROL);
  const ended = controls.find((m) => m.hdr.sid === 'dl' && m.hdr.typ === 'error');
  assert.ok(ended, `no error for the session: ${JSON.stringify(controls.map((m) => m.hdr))}`);
  assert.equal(errorBody(ended).close, true);
  assert.match(errorBody(ended).err, GONE);
  const told = controls.find((m) => m.hdr.sid === '' && m.hdr.typ === 'error');
  assert.ok(told, `no control error for the socket: ${JSON.stringify(controls.map((m) => m.hdr))}`);
  assert.match(errorBody(told).err, GONE);

  // The forward ends too, saying why, and its local connection is closed.
  assert.equal(await within(forwardDone, 20000, 'tether-hub forward exited'), 1, child.output);
  assert.match(child.output, /tether-hub forward: .*stopped answering/);
  await within(socketClosed, 10000, 'the local connection closed');
});
