// Operator accounts, roles, API tokens, the audit trail and the login limits
// against a real tether-hub: HTTP routes and the operator WebSocket per role, a
// flood of failed logins that must neither lock anyone else out nor stall the
// device links, and an account disabled mid-shell.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  startHub, login, request, connectDevice, connectOperator, hubBin, PROTO, errorBody,
} from './helpers.mjs';

const SHELL = PROTO.SHELL;
const CONTROL = PROTO.CONTROL;
const DEVICE = 'gw1';
const PASSWORDS = { vera: 'vera-password', otto: 'otto-password', cliop: 'cliop-password' };

let hub;
let admin;

before(async () => {
  hub = await startHub({
    devices: [DEVICE],
    // An account made on the command line before the hub starts.
    beforeStart: (configFile) => execFileSync(hubBin,
      ['--config', configFile, '--add-operator', 'cliop', '--role', 'operator'],
      { input: `${PASSWORDS.cliop}\n`, stdio: ['pipe', 'pipe', 'pipe'] }),
  });
  admin = await login(hub);
  for (const [name, role] of [['vera', 'viewer'], ['otto', 'operator']]) {
    const res = await request(hub, 'POST', '/api/accounts', {
      cookie: admin, body: { name, role, password: PASSWORDS[name] },
    });
    assert.equal(res.status, 201, res.text);
  }
});

after(async () => {
  if (hub) await hub.stop();
});

describe('accounts and roles', () => {
  test('the command line made an operator account', async () => {
    const cookie = await login(hub, 'cliop', PASSWORDS.cliop, '127.0.0.5');
    const res = await request(hub, 'GET', '/api/session', { cookie });
    assert.deepEqual(res.json, { user: 'cliop', role: 'operator' });
  });

  test('an account added on the command line while the hub runs logs in at once', async () => {
    execFileSync(hubBin, ['--config', hub.configFile, '--add-operator', 'late', '--role', 'viewer'],
      { input: 'late-password\n', stdio: ['pipe', 'pipe', 'pipe'] });
    const cookie = await login(hub, 'late', 'late-password', '127.0.0.6');
    const res = await request(hub, 'GET', '/api/session', { cookie });
    assert.deepEqual(res.json, { user: 'late', role: 'viewer' });
  });

  test('each role against the routes over HTTP', async () => {
    const vera = await login(hub, 'vera', PASSWORDS.vera, '127.0.0.5');
    const otto = await login(hub, 'otto', PASSWORDS.otto, '127.0.0.5');
    const cases = [
      ['GET', '/api/devices', { vera: 200, otto: 200, admin: 200 }],
      ['GET', `/api/devices/${DEVICE}`, { vera: 200, otto: 200, admin: 200 }],
      ['GET', '/api/accounts', { vera: 403, otto: 403, admin: 200 }],
      ['GET', '/api/audit', { vera: 403, otto: 403, admin: 200 }],
      ['POST', `/api/devices/${DEVICE}/whatever`, { vera: 403, otto: 405, admin: 405 }],
    ];
    const cookies = { vera, otto, admin };
    for (const [method, path, want] of cases) {
      for (const [who, status] of Object.entries(want)) {
        const res = await request(hub, method, path, { cookie: cookies[who], body: method === 'POST' ? {} : undefined });
        assert.equal(res.status, status, `${who} ${method} ${path}: ${res.text}`);
        if (status === 403) assert.match(res.json.error, /forbidden: the \w+ role is needed/);
      }
    }
  });

  test('a viewer cannot open a shell even by crafting WebSocket messages', async () => {
    const dev = await connectDevice(hub, DEVICE);
    const vera = await login(hub, 'vera', PASSWORDS.vera, '127.0.0.5');
    const op = await connectOperator(hub, vera, DEVICE);
    op.send({ hdr: { proto: CONTROL, typ: 'ping', sid: 'k' } });
    await op.next({ proto: CONTROL, typ: 'pong' });  // a viewer's socket works for what it may do
    op.send({ hdr: { proto: SHELL, typ: 'new', sid: 's1', props: { terminal_width: 80, terminal_height: 24 } } });
    op.send({ hdr: { proto: SHELL, typ: 'shell', sid: 's1' }, body: new TextEncoder().encode('id\n') });
    op.send({ hdr: { proto: CONTROL, typ: 'open', sid: 'r1' } });
    for (let i = 0; i < 3; i++) {
      const err = await op.next({ proto: CONTROL, typ: 'error' });
      assert.match(errorBody(err).err, /forbidden: .* needs the operator role/);
    }
    assert.ok(await dev.none({ proto: SHELL }, 300), 'a shell message reached the device');
    assert.ok(await dev.none({ proto: CONTROL, typ: 'open' }, 50));
    await op.close();
    await dev.close();
  });

  test('a token with a narrower role is limited to it, and revoking ends it', async () => {
    const made = await request(hub, 'POST', '/api/tokens', { cookie: admin, body: { label: 'ci', role: 'viewer' } });
    assert.equal(made.status, 201, made.text);
    assert.match(made.json.token, /^[0-9a-f]{64}$/);
    const bearer = { Authorization: `Bearer ${made.json.token}` };
    assert.equal((await request(hub, 'GET', '/api/devices', { headers: bearer })).status, 200);
    assert.equal((await request(hub, 'GET', '/api/accounts', { headers: bearer })).status, 403);
    assert.equal((await request(hub, 'POST', `/api/devices/${DEVICE}/x`, { headers: bearer, body: {} })).status, 403);
    const listed = await request(hub, 'GET', '/api/tokens', { cookie: admin });
    assert.ok(!listed.text.includes(made.json.token), 'the token is shown once only');
    const revoked = await request(hub, 'POST', `/api/tokens/${made.json.id}/revoke`, { cookie: admin, body: {} });
    assert.equal(revoked.status, 200);
    assert.equal((await request(hub, 'GET', '/api/devices', { headers: bearer })).status, 401);
  });
});

describe('a login flood', () => {
  test('from one address locks out neither another address nor another account, and device links keep their keepalive', async () => {
    const dev = await connectDevice(hub, DEVICE);
    // WebSocket ping/pong on the device link, every 20 ms, while the flood runs.
    const rtts = [];
    let pinging = true;
    const pinger = (async () => {
      while (pinging) {
        const t0 = process.hrtime.bigint();
        await new Promise((resolve) => { dev.ws.once('pong', resolve); dev.ws.ping(); });
        rtts.push(Number(process.hrtime.bigint() - t0) / 1e6);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = Date.now();
    const flood = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      request(hub, 'POST', '/api/login', { body: { username: 'admin', password: `guess-${i}` }, from: '127.0.0.2' })));
    // Meanwhile and after: the same account from another address, another account too.
    const other = await request(hub, 'POST', '/api/login', { body: { username: 'admin', password: hub.password }, from: '127.0.0.3' });
    const otherAccount = await request(hub, 'POST', '/api/login', { body: { username: 'otto', password: PASSWORDS.otto }, from: '127.0.0.4' });
    const floodMs = Date.now() - t0;
    pinging = false;
    await pinger;
    const statuses = flood.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 401 || s === 429 || s === 503), `statuses: ${statuses}`);
    assert.ok(statuses.filter((s) => s === 429).length >= 30, `statuses: ${statuses}`);
    assert.equal(other.status, 200, other.text);
    assert.equal(otherAccount.status, 200, otherAccount.text);
    const worst = Math.max(...rtts);
    console.log(`flood ${floodMs} ms; ${rtts.length} device pings, worst round trip ${worst.toFixed(1)} ms`);
    assert.ok(rtts.length >= 5, `only ${rtts.length} pings answered in ${floodMs} ms`);
    // Checked on the loop, the ten password hashes that pass the limits run back to
    // back and hold the device's pong for most of the flood (measured: 727 ms of a
    // 1194 ms flood). Off the loop only the machine's load delays it, so the bound is
    // relative to the flood (which the same load stretches) with a floor.
    const bound = Math.max(floodMs / 3, 250);
    assert.ok(worst < bound, `a device ping waited ${worst} ms during a ${floodMs} ms flood`);
    await dev.close();
  });
});

describe('disabling an account', () => {
  test('ends its login sessions and its shells', async () => {
    const dev = await connectDevice(hub, DEVICE);
    const otto = await login(hub, 'otto', PASSWORDS.otto, '127.0.0.6');
    const op = await connectOperator(hub, otto, DEVICE);
    op.send({ hdr: { proto: SHELL, typ: 'new', sid: 'sh1', props: { terminal_width: 80, terminal_height: 24 } } });
    await dev.next({ proto: SHELL, typ: 'new', sid: 'sh1' });
    dev.send({ hdr: { proto: SHELL, typ: 'new', sid: 'sh1', props: { status: 1 } } });
    await op.next({ proto: SHELL, typ: 'new', sid: 'sh1' });

    const res = await request(hub, 'POST', '/api/accounts/otto/disable', { cookie: admin, body: {} });
    assert.equal(res.status, 200, res.text);
    const stop = await dev.next({ proto: SHELL, typ: 'stop', sid: 'sh1' });
    assert.equal(stop.hdr.props.user_id, 'otto');
    const closed = await op.waitClosed();
    assert.equal(closed.code, 1008);
    assert.equal((await request(hub, 'GET', '/api/devices', { cookie: otto })).status, 401);
    const again = await request(hub, 'POST', '/api/login', { body: { username: 'otto', password: PASSWORDS.otto }, from: '127.0.0.6' });
    assert.equal(again.status, 403);
    await request(hub, 'POST', '/api/accounts/otto/enable', { cookie: admin, body: {} });
    await dev.close();
  });
});

describe('the audit trail', () => {
  test('has the logins, the shell, the account changes; exported as JSON lines to admins only', async () => {
    const res = await request(hub, 'GET', '/api/audit?format=jsonl&limit=1000', { cookie: admin });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /application\/x-ndjson/);
    const events = res.text.trim().split('\n').map((l) => JSON.parse(l));
    const has = (pred, what) => assert.ok(events.some(pred), `no ${what} in ${res.text.slice(0, 2000)}`);
    has((e) => e.action === 'login' && e.outcome === 'failed' && e.address === '127.0.0.2', 'failed login from 127.0.0.2');
    has((e) => e.action === 'login' && e.outcome === 'denied' && e.address === '127.0.0.2', 'rate-limited login');
    has((e) => e.action === 'login' && e.outcome === 'ok' && e.user === 'otto' && e.address === '127.0.0.4', 'otto login');
    has((e) => e.action === 'shell.open' && e.user === 'otto' && e.device === DEVICE, 'shell.open');
    has((e) => e.action === 'shell.close' && e.user === 'otto' && /duration_s=/.test(e.detail), 'shell.close');
    has((e) => e.action === 'message.denied' && e.user === 'vera', 'denied viewer shell');
    has((e) => e.action === 'account.disable' && e.user === 'admin' && e.detail === 'otto', 'account.disable');
    has((e) => e.action === 'account.create' && e.user === '(command line)', 'account.create from the CLI');
    has((e) => e.action === 'device.register' && e.device === DEVICE, 'device.register');
    has((e) => e.action === 'token.revoke', 'token.revoke');
    const filtered = await request(hub, 'GET', '/api/audit?user=otto&action=shell.', { cookie: admin });
    assert.ok(filtered.json.length >= 2);
    assert.ok(filtered.json.every((e) => e.user === 'otto' && e.action.startsWith('shell.')));
    const otto = await login(hub, 'otto', PASSWORDS.otto, '127.0.0.7');
    assert.equal((await request(hub, 'GET', '/api/audit?format=jsonl', { cookie: otto })).status, 403);
  });
});
