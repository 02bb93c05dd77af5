// Commands across hub instances (issue #19): three tether-hub instances on one
// NATS bus sharing one store, a fake device (speaking wire.md 5.4) whose link is on
// instance B, and an operator whose API calls go to instance A. The request made on
// A reaches the device over the bus; its result arrives at B; the outcome is then
// visible through GET on every instance, once, and A's count of waiting requests
// drops (its 429 limit does not fill up with requests finished elsewhere). A request
// made on an instance that is killed before its result arrives is sent again by the
// instance the device reconnects to (from the store row) and finished there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until } from './cluster_rig.mjs';
import { connect, devicePath, login, request, PROTO, encodeBody, decodeBody } from './helpers.mjs';
import { readFileSync, writeFileSync } from 'node:fs';

const CMD = PROTO.COMMAND;
const MAX_PENDING = 64;  // CommandService::kMaxPendingPerDevice
let cluster;
let device;
let deviceId;
let token;
let hubA;
let hubB;
let hubC;
const cookies = new Map();

// The fake device: answers every request with `ok` and ret {n}, unless `hold`.
const answered = [];
let hold = false;
const held = [];
async function answerRequests() {
  for (;;) {
    let msg;
    try {
      msg = await device.next({ proto: CMD, typ: 'request' }, 60000);
    } catch {
      return;  // the link closed (the end of the test)
    }
    const req = decodeBody(msg.body);
    if (hold) {
      held.push(req);
      continue;
    }
    reply(req);
  }
}
function reply(req) {
  answered.push(req.id);
  device.send({
    hdr: { proto: CMD, typ: 'result' },
    body: encodeBody({ id: req.id, status: 'ok', ret: { n: req.args.n }, ts: Date.now() }),
  });
}

// The device's ack of `id` (acks of earlier requests are skipped).
async function ackOf(id) {
  for (;;) {
    const ack = await device.next({ proto: CMD, typ: 'ack' }, 10000);
    if (decodeBody(ack.body).id === id) return;
  }
}

const api = (hub, method, path, body) => request(hub, method, path, { body, cookie: cookies.get(hub) });

async function post(hub, n) {
  const res = await api(hub, 'POST', `/api/devices/${deviceId}/commands`, { target: 't', action: 'a', args: { n } });
  assert.equal(res.status, 202, `${hub.name}: ${res.text}`);
  return res.json.id;
}

async function finishedOn(hub, id) {
  const res = await until(`command ${id} finished as seen by ${hub.name}`, async () => {
    const r = await api(hub, 'GET', `/api/devices/${deviceId}/commands/${id}`);
    return r.status === 200 && r.json.status !== 'pending' && r;
  }, 10000, 50);
  return res.json;
}

before(async () => {
  cluster = await startCluster({ instances: 3, haproxy: false, devices: 1, logLevel: 'debug' });
  [hubA, hubB, hubC] = cluster.hubs;
  for (const h of cluster.hubs) cookies.set(h, await login(h));
  const [line] = readFileSync(cluster.tokensFile, 'utf8').trim().split('\n');
  [deviceId, token] = line.split(' ');
  device = await connect(hubB, devicePath, { Authorization: `Bearer ${token}` });
  await hubB.child.waitFor(new RegExp(`device ${deviceId} connected`));
  // Every instance sees it online (the presence announcement crossed the bus).
  for (const h of cluster.hubs) {
    await until(`${h.name} sees ${deviceId} online`, async () =>
      (await api(h, 'GET', `/api/devices/${deviceId}/command-targets`)).json?.online === true, 10000, 50);
  }
  answerRequests();
});

after(async () => {
  if (device) await device.close();
  if (cluster) await cluster.stop();
});

test('a command sent on A to a device on B: its outcome shows on every instance, once', async () => {
  const id = await post(hubA, 7);
  await ackOf(id);
  for (const h of cluster.hubs) {
    const got = await finishedOn(h, id);
    assert.equal(got.status, 'ok', `${h.name}: ${JSON.stringify(got)}`);
    assert.deepEqual(got.ret, { n: 7 });
    assert.equal(got.user, 'admin', 'the request row A made was kept, not replaced by an orphan');
    assert.equal(got.action, 'a');
    const history = (await api(h, 'GET', `/api/devices/${deviceId}/commands`)).json;
    assert.equal(history.filter((r) => r.id === id).length, 1, `${h.name}: ${JSON.stringify(history)}`);
    assert.equal(history.find((r) => r.id === id).status, 'ok');
  }
  assert.doesNotMatch(hubB.log(), new RegExp(`result for unknown command ${id}`));
});

test('requests finished elsewhere do not fill up the limit of waiting requests on A', async () => {
  const ids = [];
  for (let i = 0; i < MAX_PENDING; i++) ids.push(await post(hubA, i));
  for (const id of ids) await finishedOn(hubB, id);
  // Each of them is finished; A takes more.
  const more = await post(hubA, 1000);
  assert.equal((await finishedOn(hubA, more)).status, 'ok');
  const history = (await api(hubA, 'GET', `/api/devices/${deviceId}/commands?limit=100`)).json;
  assert.ok(history.slice(0, MAX_PENDING + 1).every((r) => r.status === 'ok'), JSON.stringify(history));
});

test('a request made on an instance killed since is sent again, and finished, where the device reconnects', async () => {
  hold = true;
  const id = await post(hubC, 42);
  await until('the request delivered', () => held.length === 1, 10000, 50);
  await hubC.child.stop('SIGKILL');
  // The device loses its link to B before answering and reconnects to A: A reads
  // the pending row C made and sends the request again (a real device would send
  // its stored result instead; this fake runs it again).
  held.length = 0;
  await device.close();
  device = await connect(hubA, devicePath, { Authorization: `Bearer ${token}` });
  answerRequests();
  await until('the request sent again by A', () => held.length === 1, 10000, 50);
  assert.equal(held[0].id, id);
  hold = false;
  reply(held.pop());
  await ackOf(id);
  for (const h of [hubA, hubB]) {
    const got = await finishedOn(h, id);
    assert.equal(got.status, 'ok');
    assert.deepEqual(got.ret, { n: 42 });
    assert.equal(got.user, 'admin');
  }
});
