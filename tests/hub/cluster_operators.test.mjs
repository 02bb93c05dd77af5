// Operator accounts, API tokens and login sessions across hub instances (issue
// #19): three tether-hub instances on one NATS bus and one store, reached by
// their own ports and through HAProxy. An account made on A logs in on B; a
// cookie from a login on one instance works on the others, also after that
// instance is killed (HAProxy moves the operator, whose cookie the store knows);
// disabling an account on A makes B refuse its cookies and tokens and close its
// operator socket there; a token revoked on A stops working on B; a logout on A
// ends the session on B.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startCluster, until, instanceThat } from './cluster_rig.mjs';
import { connect, connectOperator, devicePath, login, request } from './helpers.mjs';

let cluster;
let hubA;
let hubB;
let device;
let deviceId;
let adminA;  // the config admin's cookie, from a login on A

const get = (hub, path, auth = {}) => request(hub, 'GET', path, auth.token
  ? { headers: { Authorization: `Bearer ${auth.token}` } } : { cookie: auth.cookie });
const post = (hub, path, body, cookie) => request(hub, 'POST', path, { body, cookie });

// Resolves once `hub` answers `path` with `status` (B hears of A's change over
// the bus, a moment after A answered).
async function answers(hub, path, auth, status) {
  let last;
  await until(`${hub.name} answering ${path} with ${status}`, async () => {
    last = await get(hub, path, auth);
    return last.status === status;
  }, 10000, 50).catch((e) => { throw new Error(`${e.message}; last: ${last?.status} ${last?.text}`); });
}

async function makeAccount(name, role) {
  const res = await post(hubA, '/api/accounts', { name, role, password: `${name}-password` }, adminA);
  assert.equal(res.status, 201, res.text);
}

async function makeToken(hub, cookie, body = {}) {
  const res = await post(hub, '/api/tokens', body, cookie);
  assert.equal(res.status, 201, res.text);
  return res.json;
}

before(async () => {
  cluster = await startCluster({ instances: 3, haproxy: true, devices: 1 });
  [hubA, hubB] = cluster.hubs;
  adminA = await login(hubA);
  const [line] = readFileSync(cluster.tokensFile, 'utf8').trim().split('\n');
  let token;
  [deviceId, token] = line.split(' ');
  device = await connect(hubB, devicePath, { Authorization: `Bearer ${token}` });
  await hubB.child.waitFor(new RegExp(`device ${deviceId} connected`));
});

after(async () => {
  if (device) await device.close();
  if (cluster) await cluster.stop();
});

test('an account created on A logs in on B, and through the balancer', async () => {
  await makeAccount('nina', 'viewer');
  const cookie = await until('nina logging in on B', async () => {
    try {
      return await login(hubB, 'nina', 'nina-password');
    } catch {
      return false;
    }
  }, 10000, 50);
  assert.equal((await get(hubB, '/api/session', { cookie })).text, '{"user":"nina","role":"viewer"}');
  await login(cluster.front, 'nina', 'nina-password', '127.0.2.1');
});

test('a token revoked on A stops working on B', async () => {
  const made = await makeToken(hubA, adminA, { label: 'ci', role: 'viewer' });
  await answers(hubB, '/api/devices', { token: made.token }, 200);
  const revoked = await post(hubA, `/api/tokens/${made.id}/revoke`, {}, adminA);
  assert.equal(revoked.status, 200, revoked.text);
  await answers(hubB, '/api/devices', { token: made.token }, 401);
  await answers(cluster.hubs[2], '/api/devices', { token: made.token }, 401);
});

test('disabling an account on A: B refuses its cookies and token and closes its socket', async () => {
  await makeAccount('otto', 'operator');
  const ottoB = await until('otto logging in on B', async () => {
    try {
      return await login(hubB, 'otto', 'otto-password');
    } catch {
      return false;
    }
  }, 10000, 50);
  const ottoA = await login(hubA, 'otto', 'otto-password');
  // A cookie from a login on A works on B, and B's on A, at once (the store).
  assert.equal((await get(hubB, '/api/session', { cookie: ottoA })).status, 200);
  assert.equal((await get(hubA, '/api/session', { cookie: ottoB })).status, 200);
  const token = (await makeToken(hubA, ottoA, { label: 'script' })).token;
  await answers(hubB, '/api/devices', { token }, 200);
  const op = await connectOperator(hubB, ottoB, deviceId);
  const disabled = await post(hubA, '/api/accounts/otto/disable', {}, adminA);
  assert.equal(disabled.status, 200, disabled.text);
  const closed = await op.waitClosed(10000);
  assert.equal(closed.code, 1008);
  for (const auth of [{ cookie: ottoB }, { cookie: ottoA }, { token }]) {
    assert.equal((await get(hubB, '/api/devices', auth)).status, 401, JSON.stringify(auth));
  }
  await assert.rejects(connectOperator(hubB, ottoB, deviceId), (e) => e.status === 401 || e.status === 403);
  await assert.rejects(login(hubB, 'otto', 'otto-password'), /403/);
});

test('a logout on A ends the session on B', async () => {
  const cookie = await login(hubA);
  assert.equal((await get(hubB, '/api/session', { cookie })).status, 200);  // cached on B
  assert.equal((await post(hubA, '/api/logout', {}, cookie)).status, 200);
  await answers(hubB, '/api/session', { cookie }, 401);
});

test('a cookie outlives the instance that made it: the balancer moves the operator on', async () => {
  const from = '127.0.2.9';
  const { hub: home, result: cookie } = await instanceThat(cluster, '^.*operator admin logged in$',
    () => login(cluster.front, 'admin', cluster.password, from));
  const other = cluster.hubs.find((h) => h !== home);
  assert.equal((await get(other, '/api/session', { cookie })).status, 200);
  home.child.proc.kill('SIGKILL');
  await home.child.exited;
  assert.equal((await get(other, '/api/session', { cookie })).status, 200);
  // Through the balancer from the same address: another instance answers, and
  // knows the cookie.
  const res = await until('the balancer answering without the dead instance', async () => {
    try {
      const r = await request(cluster.front, 'GET', '/api/session', { cookie, from });
      return r.status === 200 && r;
    } catch {
      return false;
    }
  }, 20000, 100);
  assert.equal(res.text, '{"user":"admin","role":"admin"}');
});
