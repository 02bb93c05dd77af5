// Software updates across hub instances (issue #19): three tether-hub instances on
// one NATS bus sharing one store and one artifact folder, a scripted device
// (speaking wire.md 5.3) whose link is on instance B, and an operator whose API
// calls go to instance A. The offer made on A reaches the device over the bus; the
// device downloads the artifact from instance C with the offer's grant (C never saw
// the offer: it finds the grant in the store); the consent posted on A reaches the
// device; the progress arrives at B, which stores it and acks the final state; and
// every instance's API then shows the same final state. An offer made on A for an
// offline device is delivered once by the instance the device connects to (C).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, until } from './cluster_rig.mjs';
import {
  connect, devicePath, login, request, tempDir, PROTO, encodeBody, decodeBody,
} from './helpers.mjs';

const UPD = PROTO.UPDATE;
let cluster;
let hubA;
let hubB;
let hubC;
let artifact;
const tokens = new Map();
const cookies = new Map();
const devices = [];

const api = (hub, method, path, body) => request(hub, method, path, { body, cookie: cookies.get(hub) });

// The offer URL's path and query, fetched from `hub` (any instance serves it).
async function download(hub, url, headers = {}) {
  const https = await import('node:https');
  const { pathname, search } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', servername: 'localhost', port: hub.port, method: 'GET',
      path: pathname + search, ca: hub.ca, headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function connectDevice(hub, id) {
  const peer = await connect(hub, devicePath, { Authorization: `Bearer ${tokens.get(id)}` });
  devices.push(peer);
  await hub.child.waitFor(new RegExp(`device ${id} connected`));
  // Every instance sees it online (the presence announcement crossed the bus).
  for (const h of cluster.hubs) {
    await until(`${h.name} sees ${id} online`, async () =>
      (await api(h, 'GET', `/api/devices/${id}/command-targets`)).json?.online === true, 10000, 50);
  }
  return peer;
}

const progress = (dev, id, state, extra = {}) =>
  dev.send({ hdr: { proto: UPD, typ: 'progress' }, body: encodeBody({ id, state, ...extra }) });

async function ackOf(dev, id) {
  for (;;) {
    const ack = await dev.next({ proto: UPD, typ: 'ack' }, 10000);
    if (decodeBody(ack.body).id === id) return;
  }
}

// The update as `hub` shows it once `ready(update)` holds.
async function updateOn(hub, id, ready) {
  const res = await until(`update ${id} as ${hub.name} shows it`, async () => {
    const r = await api(hub, 'GET', `/api/updates/${id}`);
    return r.status === 200 && ready(r.json) && r;
  }, 10000, 50);
  return res.json;
}

before(async () => {
  const dir = tempDir('tether-cluster-update-');
  const arts = join(dir, 'artifacts');
  mkdirSync(arts);
  artifact = randomBytes(64 * 1024 + 3);
  writeFileSync(join(arts, 'app_2.0.deb'), artifact);
  cluster = await startCluster({
    instances: 3, haproxy: false, devices: 2, logLevel: 'debug',
    extra: `[update]\nartifact-dir = ${arts}\n`,
  });
  [hubA, hubB, hubC] = cluster.hubs;
  for (const h of cluster.hubs) cookies.set(h, await login(h));
  for (const line of readFileSync(cluster.tokensFile, 'utf8').trim().split('\n')) {
    const [id, token] = line.split(' ');
    tokens.set(id, token);
  }
  // Every instance hashed the shared folder.
  for (const h of cluster.hubs) {
    await until(`${h.name} hashed the artifact`, async () =>
      (await api(h, 'GET', '/api/updates/artifacts')).json?.artifacts?.[0]?.sha256, 10000, 50);
  }
});

after(async () => {
  for (const d of devices) await d.close().catch(() => {});
  if (cluster) await cluster.stop();
});

test('an offer made on A, downloaded from C, reported to B: acked by B, the same on every instance', async () => {
  const [deviceId] = cluster.deviceIds;
  const device = await connectDevice(hubB, deviceId);
  const posted = await api(hubA, 'POST', `/api/devices/${deviceId}/updates`,
    { artifact: 'app_2.0.deb', version: '2.0', consent: true });
  assert.equal(posted.status, 201, posted.text);
  const { id } = posted.json;

  const offer = decodeBody((await device.next({ proto: UPD, typ: 'offer' }, 10000)).body);
  assert.equal(offer.id, id);
  assert.equal(offer.size, artifact.length);
  assert.equal(offer.sha256, createHash('sha256').update(artifact).digest('hex'));

  // The download lands on C, which did not make the offer.
  const whole = await download(hubC, offer.url);
  assert.equal(whole.status, 200);
  assert.ok(whole.body.equals(artifact));
  const tail = await download(hubB, offer.url, { Range: 'bytes=1000-' });
  assert.equal(tail.status, 206);
  assert.ok(tail.body.equals(artifact.subarray(1000)));
  const forged = new URL(offer.url);
  forged.searchParams.set('grant', '0'.repeat(32));
  assert.equal((await download(hubC, forged.href)).status, 404);

  progress(device, id, 'downloading', { percent: 100 });
  progress(device, id, 'awaiting-consent');
  // The operator on A sees the device wait (B stored it) and consents there.
  await updateOn(hubA, id, (u) => u.state === 'awaiting-consent');
  const consented = await api(hubA, 'POST', `/api/updates/${id}/consent`, { accept: true });
  assert.equal(consented.status, 200, consented.text);
  const consent = decodeBody((await device.next({ proto: UPD, typ: 'consent' }, 10000)).body);
  assert.deepEqual(consent, { id, accept: true });

  progress(device, id, 'installing');
  progress(device, id, 'success', { message: 'installed 2.0' });
  await ackOf(device, id);

  const states = ['queued', 'offered', 'downloading', 'awaiting-consent', 'awaiting-consent',
    'installing', 'success'];
  for (const h of cluster.hubs) {
    const u = await updateOn(h, id, (x) => x.state === 'success' && x.acked);
    assert.equal(u.message, 'installed 2.0', h.name);
    assert.equal(u.created_by, 'admin', h.name);
    assert.deepEqual(u.events.map((e) => e.state), states, `${h.name}: ${JSON.stringify(u.events)}`);
    const list = (await api(h, 'GET', `/api/devices/${deviceId}/updates`)).json;
    assert.equal(list.length, 1, `${h.name}: ${JSON.stringify(list)}`);
    assert.equal(list[0].state, 'success');
    // The grant died with the update, wherever the download lands.
    assert.equal((await download(h, offer.url)).status, 404, h.name);
  }
  assert.doesNotMatch(hubB.log(), new RegExp(`update ${id} is \\S+ \\(not an offer of this hub\\)`));
  assert.equal(device.inbox.filter((m) => m.hdr?.proto === UPD && m.hdr.typ === 'offer').length, 0);
});

test('an offer queued on A for an offline device goes out once from where it connects', async () => {
  const deviceId = cluster.deviceIds[1];
  const posted = await api(hubA, 'POST', `/api/devices/${deviceId}/updates`, { artifact: 'app_2.0.deb' });
  assert.equal(posted.status, 201, posted.text);
  const { id } = posted.json;
  assert.equal(posted.json.state, 'queued');
  await updateOn(hubC, id, (u) => u.state === 'queued');

  const device = await connectDevice(hubC, deviceId);
  const offer = decodeBody((await device.next({ proto: UPD, typ: 'offer' }, 10000)).body);
  assert.equal(offer.id, id);
  // A lists artifacts (a rescan, after which it sends what it has queued for
  // online devices): the store says it went out already.
  assert.equal((await api(hubA, 'GET', '/api/updates/artifacts')).status, 200);
  assert.equal((await download(hubA, offer.url)).status, 200);
  progress(device, id, 'failure', { message: 'no space left' });
  await ackOf(device, id);
  for (const h of cluster.hubs) {
    const u = await updateOn(h, id, (x) => x.state === 'failure' && x.acked);
    assert.equal(u.message, 'no space left');
    assert.deepEqual(u.events.map((e) => e.state), ['queued', 'offered', 'failure'], h.name);
  }
  assert.equal(device.inbox.filter((m) => m.hdr?.proto === UPD && m.hdr.typ === 'offer').length, 0,
    'the offer went out once');
});
