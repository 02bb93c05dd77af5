// Software update at the hub (wire.md 5.3) with a fake device over a real
// WebSocket: the artifact folder hashed and signed, /artifacts/NAME served with
// Range to the holder of an offer's grant only (206, 416, no path escape), offers,
// progress recorded, consent and cancel relayed, the final state acknowledged, a
// fleet campaign counted, and bad JSON bodies refused with clear sentences.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, verify, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startHub, login, request, connectDevice, PROTO, encodeBody, decodeBody, tempDir,
} from './helpers.mjs';

const UPD = PROTO.UPDATE;
let hub;
let cookie;
let artifact;
let publicKey;

before(async () => {
  const dir = tempDir('tether-update-art-');
  const arts = join(dir, 'artifacts');
  mkdirSync(arts);
  artifact = randomBytes(100 * 1024 + 7);
  writeFileSync(join(arts, 'app_1.2.deb'), artifact);
  writeFileSync(join(arts, 'other.bin'), Buffer.from('other artifact'));
  writeFileSync(join(dir, 'secret.txt'), 'not an artifact');
  execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'sign.key')]);
  publicKey = createPublicKey(readFileSync(join(dir, 'sign.key')));
  hub = await startHub({
    devices: ['u1', 'u2', 'u3'],
    extra: `[update]\nartifact-dir = ${arts}\nsigning-key = ${join(dir, 'sign.key')}\n`,
  });
  cookie = await login(hub);
});

after(async () => {
  if (hub) await hub.stop();
});

const get = (path) => request(hub, 'GET', path, { cookie });
const post = (path, body) => request(hub, 'POST', path, { cookie, body });

// The artifact list once every file is hashed.
async function artifacts() {
  for (let i = 0; i < 100; i += 1) {
    const res = await get('/api/updates/artifacts');
    assert.equal(res.status, 200, res.text);
    if (res.json.artifacts.every((a) => a.sha256)) return res.json;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('artifacts were never hashed');
}

// GET of an artifact URL's path, the body as a Buffer.
async function fetchBytes(path, headers = {}) {
  const https = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', servername: 'localhost', port: hub.port, method: 'GET', path, ca: hub.ca, headers,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const progress = (dev, id, state, extra = {}) =>
  dev.send({ hdr: { proto: UPD, typ: 'progress' }, body: encodeBody({ id, state, ...extra }) });

test('the folder is listed with size, sha256 and an Ed25519 signature; dot files and the parent are not', async () => {
  const list = await artifacts();
  assert.equal(list.signing, 'Ed25519');
  const names = list.artifacts.map((a) => a.name).sort();
  assert.deepEqual(names, ['app_1.2.deb', 'other.bin']);
  const app = list.artifacts.find((a) => a.name === 'app_1.2.deb');
  assert.equal(app.size, artifact.length);
  assert.equal(app.sha256, createHash('sha256').update(artifact).digest('hex'));
  assert.equal(app.signed, true);
});

test('offer -> download with Range -> consent -> success -> ack; the grant dies with the update', async () => {
  const dev = await connectDevice(hub, 'u1');
  await artifacts();
  const res = await post('/api/devices/u1/updates', { artifact: 'app_1.2.deb', version: '1.2', consent: true });
  assert.equal(res.status, 201, res.text);
  const id = res.json.id;
  const offerMsg = await dev.next({ proto: UPD, typ: 'offer' });
  const offer = decodeBody(offerMsg.body);
  assert.equal(offer.id, id);
  assert.equal(offer.version, '1.2');
  assert.equal(offer.size, artifact.length);
  assert.equal(offer.consent, true);
  const digest = createHash('sha256').update(artifact).digest();
  assert.equal(offer.sha256, digest.toString('hex'));
  // Ed25519 over the 32 digest bytes, as tetherd checks it.
  assert.ok(verify(null, digest, publicKey, Buffer.from(offer.signature)));
  const url = new URL(offer.url);
  assert.equal(url.protocol, 'https:');
  assert.equal(url.pathname, '/artifacts/app_1.2.deb');
  const path = url.pathname + url.search;

  const whole = await fetchBytes(path);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers['accept-ranges'], 'bytes');
  assert.ok(whole.body.equals(artifact));

  const tail = await fetchBytes(path, { Range: 'bytes=40000-' });
  assert.equal(tail.status, 206);
  assert.equal(tail.headers['content-range'], `bytes 40000-${artifact.length - 1}/${artifact.length}`);
  assert.ok(tail.body.equals(artifact.subarray(40000)));
  const middle = await fetchBytes(path, { Range: 'bytes=5-9' });
  assert.equal(middle.status, 206);
  assert.ok(middle.body.equals(artifact.subarray(5, 10)));
  const suffix = await fetchBytes(path, { Range: 'bytes=-3' });
  assert.equal(suffix.status, 206);
  assert.ok(suffix.body.equals(artifact.subarray(artifact.length - 3)));
  const past = await fetchBytes(path, { Range: `bytes=${artifact.length}-` });
  assert.equal(past.status, 416);
  assert.equal(past.headers['content-range'], `bytes */${artifact.length}`);
  const several = await fetchBytes(path, { Range: 'bytes=0-1,5-6' });
  assert.equal(several.status, 200, 'several ranges: the whole file');
  assert.ok(several.body.equals(artifact));

  // Without the grant, with another one, for another artifact, or escaping: 404.
  const grant = url.searchParams.get('grant');
  for (const p of ['/artifacts/app_1.2.deb', `/artifacts/app_1.2.deb?grant=${'0'.repeat(32)}`,
    `/artifacts/other.bin?grant=${grant}`, `/artifacts/..%2Fsecret.txt?grant=${grant}`,
    `/artifacts/../secret.txt?grant=${grant}`, `/artifacts/%2e%2e/secret.txt?grant=${grant}`,
    `/artifacts/.hidden?grant=${grant}`, `/artifacts/?grant=${grant}`]) {
    const r = await fetchBytes(p);
    assert.equal(r.status, 404, p);
    assert.ok(!r.body.includes('not an artifact'), p);
  }

  progress(dev, id, 'downloading', { percent: 40 });
  progress(dev, id, 'verifying', { percent: 100 });
  progress(dev, id, 'awaiting-consent', { message: 'waiting for consent' });
  for (;;) {
    const r = await get(`/api/updates/${id}`);
    if (r.json.state === 'awaiting-consent') break;
    await new Promise((res2) => setTimeout(res2, 20));
  }
  const consent = await post(`/api/updates/${id}/consent`, { accept: true });
  assert.equal(consent.status, 200, consent.text);
  assert.deepEqual(decodeBody((await dev.next({ proto: UPD, typ: 'consent' })).body), { id, accept: true });
  progress(dev, id, 'installing');
  progress(dev, id, 'success', { message: 'installer said: all good' });
  assert.deepEqual(decodeBody((await dev.next({ proto: UPD, typ: 'ack' })).body), { id });
  const done = await get(`/api/devices/u1/updates`);
  assert.equal(done.json[0].id, id);
  assert.equal(done.json[0].state, 'success');
  assert.equal(done.json[0].message, 'installer said: all good');
  assert.equal(done.json[0].acked, true);
  const states = done.json[0].events.map((e) => e.state);
  assert.deepEqual(states, ['queued', 'offered', 'downloading', 'verifying', 'awaiting-consent', 'awaiting-consent', 'installing', 'success']);
  assert.equal((await fetchBytes(path)).status, 404, 'the grant ends with the update');
  // A repeated final state (the ack was lost) is acknowledged again.
  progress(dev, id, 'success', { message: 'installer said: all good' });
  assert.deepEqual(decodeBody((await dev.next({ proto: UPD, typ: 'ack' })).body), { id });
  await dev.close();
});

test('an offer to an offline device waits for it; cancel before delivery ends it at the hub', async () => {
  await artifacts();
  const res = await post('/api/devices/u2/updates', { artifact: 'other.bin' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.state, 'queued');
  assert.equal(res.json.version, 'other.bin');
  const busy = await post('/api/devices/u2/updates', { artifact: 'other.bin' });
  assert.equal(busy.status, 409);
  assert.match(busy.json.error, /has update .* in state queued/);
  const dev = await connectDevice(hub, 'u2');
  const offer = decodeBody((await dev.next({ proto: UPD, typ: 'offer' })).body);
  assert.equal(offer.id, res.json.id);
  progress(dev, offer.id, 'downloading', { percent: 0 });
  for (;;) {
    if ((await get(`/api/updates/${offer.id}`)).json.state === 'downloading') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const cancel = await post(`/api/updates/${offer.id}/cancel`);
  assert.equal(cancel.status, 200, cancel.text);
  assert.deepEqual(decodeBody((await dev.next({ proto: UPD, typ: 'cancel' })).body), { id: offer.id });
  progress(dev, offer.id, 'cancelled', { message: 'cancelled by the backend' });
  await dev.next({ proto: UPD, typ: 'ack' });
  const again = await post(`/api/updates/${offer.id}/cancel`);
  assert.equal(again.status, 409);
  await dev.close();

  const queued = await post('/api/devices/u3/updates', { artifact: 'other.bin', consent: false });
  assert.equal(queued.status, 201);
  const c = await post(`/api/updates/${queued.json.id}/cancel`);
  assert.equal(c.status, 200);
  assert.equal(c.json.state, 'cancelled');
});

test('a fleet campaign offers one artifact to the chosen devices and counts them per state', async () => {
  await artifacts();
  const dev = await connectDevice(hub, 'u1');
  const res = await post('/api/update-campaigns', { devices: ['u1', 'u2'], artifact: 'other.bin', version: '7' });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.total, 2);
  assert.deepEqual(res.json.counts, { offered: 1, queued: 1 });
  const offer = decodeBody((await dev.next({ proto: UPD, typ: 'offer' })).body);
  progress(dev, offer.id, 'failure', { message: 'installer exited with status 3' });
  await dev.next({ proto: UPD, typ: 'ack' });
  const status = await get(`/api/update-campaigns/${res.json.id}`);
  assert.deepEqual(status.json.counts, { failure: 1, queued: 1 });
  assert.equal(status.json.updates.length, 2);
  const list = await get('/api/update-campaigns');
  assert.equal(list.json[0].id, res.json.id);
  const unknown = await post('/api/update-campaigns', { devices: ['u1', 'nope'], artifact: 'other.bin' });
  assert.equal(unknown.status, 400);
  assert.match(unknown.json.error, /no such device: nope/);
  await dev.close();
});

test('bad bodies get a 400 sentence; unknown devices, updates and artifacts 404', async () => {
  const cases = [
    ['{"artifact": "other.bin"', /not valid JSON/],
    ['garbage', /not valid JSON/],
    ['[1,2]', /must be a JSON object/],
    ['{"artifact": 5}', /'artifact' must be a string/],
    ['{"artifact": "other.bin", "consent": "yes"}', /'consent' must be true or false/],
    ['{"artifact": "other.bin", "colour": 1}', /unknown field 'colour'/],
    ['{}', /'artifact' is required/],
    ['{"artifact": "../hub.conf"}', /'artifact' must be a file name/],
    ['{"artifact": "other.bin", "version": ""}', null],
  ];
  for (const [body, want] of cases) {
    const res = await request(hub, 'POST', '/api/devices/u3/updates', { cookie, body });
    if (want === null) {
      // An empty version means "the artifact's name".
      assert.equal(res.status, 201, res.text);
      await post(`/api/updates/${res.json.id}/cancel`);
      continue;
    }
    assert.equal(res.status, 400, `${body}: ${res.text}`);
    assert.match(res.json.error, want, body);
  }
  const big = await request(hub, 'POST', '/api/devices/u3/updates', { cookie, body: JSON.stringify({ artifact: 'x'.repeat(20000) }) });
  assert.equal(big.status, 413);
  assert.equal((await post('/api/devices/u3/updates', { artifact: 'missing.bin' })).status, 404);
  assert.equal((await post('/api/devices/nobody/updates', { artifact: 'other.bin' })).status, 404);
  assert.equal((await get('/api/updates/ffff')).status, 404);
  const consent = await request(hub, 'POST', '/api/updates/ffff/consent', { cookie, body: '{"accept": 1}' });
  assert.equal(consent.status, 404);
  const campaign = await request(hub, 'POST', '/api/update-campaigns', { cookie, body: '{"devices": "u1", "artifact": "other.bin"}' });
  assert.equal(campaign.status, 400);
  assert.match(campaign.json.error, /'devices' must be a list/);
  const both = await post('/api/update-campaigns', { devices: ['u1'], all: true, artifact: 'other.bin' });
  assert.equal(both.status, 400);
  // Without a session: 401 for the API, 404 for a download without a grant.
  assert.equal((await request(hub, 'GET', '/api/updates/artifacts')).status, 401);
});
