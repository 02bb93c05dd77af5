// Monitoring at the hub (wire.md 5.1) with a fake device over a real WebSocket:
// acks after the hub's commit, dedup by seq, the JSON API, and (d) the hub killed
// and restarted mid-stream while the device keeps re-sending what is unacked:
// nothing lost, nothing doubled in the hub's history.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  startHub, login, request, connectDevice, PROTO, encodeBody, decodeBody, hubBin,
} from './helpers.mjs';

const MON = PROTO.MONITORING;
const CONTROL = PROTO.CONTROL;

let hub;
let cookie;

before(async () => {
  hub = await startHub({ devices: ['m1', 'm2', 'm3', 'm4'] });
  cookie = await login(hub);
});

after(async () => {
  // hub.stop() knows the first process only; a restarted one is ended here.
  if (hub && hub.restarted && hub.restarted.exitCode === null && hub.restarted.signalCode === null) {
    const exited = new Promise((r) => hub.restarted.once('exit', r));
    hub.restarted.kill('SIGTERM');
    await exited;
  }
  if (hub) await hub.stop();
});

const get = (path) => request(hub, 'GET', path, { cookie });

function dataMsg(seq, stream, values, ts = Date.now()) {
  return { hdr: { proto: MON, typ: 'data' }, body: encodeBody({ seq, ts, stream, values }) };
}
function alertMsg(seq, id, state, severity = 'major', summary = 'hot') {
  return {
    hdr: { proto: MON, typ: 'alert' },
    body: encodeBody({ seq, ts: Date.now(), id, severity, state, summary, details: { zone: 1 } }),
  };
}
function statusMsg(id) {
  return {
    hdr: { proto: MON, typ: 'status' },
    body: encodeBody({ state: 'online', device_id: id, version: '9.9.9', boot_id: 'boot-1', uptime_s: 5, inventory: { os: 'debian', cpus: 2 } }),
  };
}

// Waits for an ack of at least `seq`; returns the highest seen.
async function ackUpTo(dev, seq, timeoutMs = 10000) {
  for (;;) {
    const m = await dev.next({ proto: MON, typ: 'ack' }, timeoutMs);
    const acked = decodeBody(m.body).seq;
    if (acked >= seq) return acked;
  }
}

// Every stored record of a device, paging through the API.
async function history(device) {
  const out = [];
  let after = 0;
  for (;;) {
    const res = await get(`/api/devices/${device}/telemetry/records?after=${after}&limit=1000`);
    assert.equal(res.status, 200, res.text);
    out.push(...res.json.records);
    if (res.json.records.length === 0) return out;
    after = res.json.cursor;
  }
}

describe('monitoring intake', () => {
  test('records are stored, acked, and served by the API', async () => {
    const dev = await connectDevice(hub, 'm1');
    dev.send(statusMsg('m1'));
    const t0 = Date.now() - 60000;
    for (let i = 1; i <= 20; i++) dev.send(dataMsg(i, 'env', { temp: 20 + i, label: 'x' }, t0 + i * 1000));
    dev.send(dataMsg(21, 'power', { volts: 12.5 }));
    dev.send(alertMsg(22, 'overheat', 'raised', 'critical'));
    dev.send(alertMsg(23, 'door', 'raised', 'minor'));
    dev.send(alertMsg(24, 'door', 'cleared', 'minor'));
    dev.send({ hdr: { proto: MON, typ: 'dropped' }, body: encodeBody({ seq: 25, ts: Date.now(), first: 3, last: 9, count: 7 }) });
    assert.equal(await ackUpTo(dev, 25), 25);

    let res = await get('/api/devices/m1/telemetry');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.status.version, '9.9.9');
    assert.equal(res.json.status.boot_id, 'boot-1');
    assert.deepEqual(res.json.status.inventory, { os: 'debian', cpus: 2 });
    assert.equal(res.json.records, 25);
    assert.ok(res.json.cursor > 0);
    const env = res.json.latest.find((r) => r.stream === 'env');
    assert.deepEqual(env.values, { temp: 40, label: 'x' });
    assert.equal(env.seq, 20);
    assert.deepEqual(res.json.latest.map((r) => r.stream), ['env', 'power']);
    assert.deepEqual(res.json.open_alerts.map((a) => [a.id, a.severity]), [['overheat', 'critical']]);

    res = await get(`/api/devices/m1/telemetry/series?stream=env&field=temp&from=${t0}&to=${t0 + 20000}&points=5`);
    assert.equal(res.status, 200, res.text);
    assert.ok(res.json.points.length <= 5 && res.json.points.length >= 4, res.text);
    assert.equal(res.json.points.reduce((n, p) => n + p[4], 0), 20);
    assert.equal(Math.max(...res.json.points.map((p) => p[3])), 40);

    res = await get('/api/devices/m1/telemetry/alerts');
    assert.deepEqual(res.json.history.map((a) => [a.seq, a.id, a.state]),
      [[24, 'door', 'cleared'], [23, 'door', 'raised'], [22, 'overheat', 'raised']]);
    assert.deepEqual(res.json.history[0].details, { zone: 1 });

    const all = await history('m1');
    const dropped = all.find((r) => r.kind === 'dropped');
    assert.deepEqual(dropped.range, { first: 3, last: 9, count: 7 });

    res = await get('/api/telemetry/open-alerts');
    assert.deepEqual(res.json, { m1: 1 });
    res = await get('/api/devices/m1/telemetry/presence');
    assert.equal(res.json[0].event, 'online');
    await dev.close();
  });

  test('a seq already stored is acked again but kept once', async () => {
    const dev = await connectDevice(hub, 'm2');
    for (let i = 1; i <= 200; i++) dev.send(dataMsg(i, 's', { v: i }));
    assert.equal(await ackUpTo(dev, 200), 200);
    for (let i = 1; i <= 200; i++) dev.send(dataMsg(i, 's', { v: -i }));
    assert.equal(await ackUpTo(dev, 200), 200);
    const all = await history('m2');
    assert.equal(all.length, 200);
    assert.equal(all[0].values.v, 1);
    await dev.close();
  });

  test('bad bodies get a control error, nothing stored, the link stays', async () => {
    const dev = await connectDevice(hub, 'm3');
    dev.send({ hdr: { proto: MON, typ: 'data' }, body: new Uint8Array([0xc1]) });
    dev.send({ hdr: { proto: MON, typ: 'data' }, body: encodeBody({ seq: 'one', ts: 1, stream: 's', values: {} }) });
    dev.send(dataMsg(1, 'x'.repeat(200), { v: 1 }));
    dev.send(dataMsg(2, 's', { v: 'y'.repeat(20000) }));
    for (let i = 0; i < 4; i++) {
      const err = decodeBody((await dev.next({ proto: CONTROL, typ: 'error' })).body);
      assert.equal(err.close, false);
    }
    dev.send(dataMsg(3, 's', { v: 3 }));
    assert.equal(await ackUpTo(dev, 3), 3);
    assert.deepEqual((await history('m3')).map((r) => r.seq), [3]);
    await dev.close();
  });

  test('the API checks its input', async () => {
    assert.equal((await request(hub, 'GET', '/api/devices/m1/telemetry')).status, 401);
    assert.equal((await get('/api/devices/nope/telemetry')).status, 404);
    assert.equal((await get('/api/devices/m1/telemetry/series?stream=env')).status, 400);
    assert.equal((await get('/api/devices/m1/telemetry/series?stream=env&field=t&from=x')).status, 400);
    assert.equal((await get('/api/devices/m1/telemetry/series?stream=env&field=t&from=10&to=5')).status, 400);
    assert.equal((await get('/api/devices/m1/telemetry/records?after=abc')).status, 400);
    assert.equal((await get('/api/devices/m1/telemetry/nothing')).status, 404);
    assert.equal((await request(hub, 'POST', '/api/devices/m1/telemetry', { cookie })).status, 405);
  });
});

// Starts the hub again on its config and state (a new port: listen.port = 0).
async function restart(h) {
  const proc = spawn(hubBin, ['--config', h.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  h.port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not restart:\n${output}`)), 10000);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
  });
  h.proc = proc;
  h.restarted = proc;
  h.url = `https://localhost:${h.port}`;
}

// The device's side of 5.1: keeps everything unacked, at most `window` in flight,
// and re-sends all unacked records in order after every reconnect.
class ReliableDevice {
  constructor(id, total, window) {
    Object.assign(this, { id, total, window, next: 1, acked: 0, dev: null, ackWaiters: [] });
  }
  async connect() {
    for (;;) {
      try {
        this.dev = await connectDevice(hub, this.id);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.dev.ws.on('message', () => this.drainAcks());
    this.dev.send(statusMsg(this.id));
    this.sent = this.acked;  // everything after acked goes again, in order
    this.fill();
  }
  drainAcks() {
    for (;;) {
      const i = this.dev.inbox.findIndex((m) => m.hdr && m.hdr.proto === MON && m.hdr.typ === 'ack');
      if (i < 0) break;
      const [m] = this.dev.inbox.splice(i, 1);
      this.acked = Math.max(this.acked, decodeBody(m.body).seq);
    }
    this.fill();
    for (const w of [...this.ackWaiters]) {
      if (this.acked >= w.seq) {
        this.ackWaiters.splice(this.ackWaiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
  fill() {
    if (this.dev.closed) return;
    while (this.sent < this.total && this.sent - this.acked < this.window) {
      this.sent += 1;
      this.dev.send(dataMsg(this.sent, 'flow', { n: this.sent }, 1000 + this.sent));
    }
  }
  waitAck(seq) {
    if (this.acked >= seq) return Promise.resolve();
    return new Promise((resolve) => this.ackWaiters.push({ seq, resolve }));
  }
}

describe('(d) the hub restarted mid-stream', () => {
  test('nothing lost, nothing doubled', async () => {
    const total = 3000;
    const device = new ReliableDevice('m4', total, 256);
    await device.connect();
    await device.waitAck(1000);
    // Kill -9 while records are in flight; the link drops under the device.
    const exited = new Promise((r) => hub.proc.once('exit', r));
    hub.proc.kill('SIGKILL');
    await exited;
    await device.dev.waitClosed();
    const ackedBefore = device.acked;
    assert.ok(ackedBefore < total, 'the kill came mid-stream');
    await restart(hub);
    cookie = await login(hub);
    await device.connect();
    await device.waitAck(total);
    const all = await history('m4');
    const seqs = all.map((r) => r.seq);
    assert.equal(seqs.length, total, 'every record once');
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i + 1));
    const presence = (await get('/api/devices/m4/telemetry/presence')).json.map((e) => e.event);
    assert.ok(presence.filter((e) => e === 'online').length >= 2, JSON.stringify(presence));
    await device.dev.close();
  });
});
