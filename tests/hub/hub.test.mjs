// tether-hub against fake devices and operators (WebSocket clients speaking
// ProtoMsg over TLS with certificates made at test time).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  startHub, login, request, connect, connectDevice, connectOperator, devicePath, operatorPath,
  PROTO, encodeBody, errorBody, text,
} from './helpers.mjs';

const SHELL = PROTO.SHELL;
const CONTROL = PROTO.CONTROL;

let hub;
let cookie;

before(async () => {
  hub = await startHub({ devices: ['dev1', 'dev2', 'dev3', 'dev4', 'dev5', 'dev6', 'dev7', 'offline1'] });
  cookie = await login(hub);
});

after(async () => {
  if (hub) await hub.stop();
});

// Opens a shell session `sid` for `op` on `dev` and completes the handshake.
async function openShell(op, dev, sid) {
  op.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  const seen = await dev.next({ proto: SHELL, typ: 'new', sid });
  dev.send({ hdr: { proto: SHELL, typ: 'new', sid, props: { status: 1 } } });
  await op.next({ proto: SHELL, typ: 'new', sid });
  return seen;
}

describe('device authentication', () => {
  const upgrade = (headers) => connect(hub, devicePath, headers);

  test('a missing token is refused with 401', async () => {
    await assert.rejects(upgrade({}), (e) => e.status === 401);
  });
  test('a bad token is refused with 401', async () => {
    await assert.rejects(upgrade({ Authorization: 'Bearer not-a-token' }), (e) => e.status === 401);
  });
  test('an empty bearer or another scheme is refused with 401', async () => {
    await assert.rejects(upgrade({ Authorization: 'Bearer ' }), (e) => e.status === 401);
    await assert.rejects(upgrade({ Authorization: `Basic ${hub.tokens.dev1}` }), (e) => e.status === 401);
  });
  test('the right token connects, and the token is not in the log', async () => {
    const dev = await connectDevice(hub, 'dev1');
    dev.send({ hdr: { proto: CONTROL, typ: 'ping', sid: 'p1' } });
    const pong = await dev.next({ proto: CONTROL, typ: 'pong' });
    assert.equal(pong.hdr.sid, 'p1');
    await dev.close();
    assert.ok(!hub.log().includes(hub.tokens.dev1));
  });
});

describe('operator routes refuse anonymous calls', () => {
  for (const [method, path] of [
    ['GET', '/api/devices'], ['GET', '/api/devices/dev1'], ['GET', '/api/session'], ['POST', '/api/logout'],
  ]) {
    test(`${method} ${path} without a cookie is 401`, async () => {
      const res = await request(hub, method, path);
      assert.equal(res.status, 401);
    });
    test(`${method} ${path} with a forged cookie is 401`, async () => {
      const res = await request(hub, method, path, { cookie: 'tether_session=' + 'a'.repeat(64) });
      assert.equal(res.status, 401);
    });
  }
  test('the operator WebSocket without a cookie is 401', async () => {
    const dev = await connectDevice(hub, 'dev2');
    await assert.rejects(connect(hub, operatorPath('dev2'), {}), (e) => e.status === 401);
    await assert.rejects(connect(hub, operatorPath('dev2'), { Cookie: 'tether_session=nope' }), (e) => e.status === 401);
    await dev.close();
  });
  test('the operator WebSocket from another origin is 403', async () => {
    const dev = await connectDevice(hub, 'dev2');
    await assert.rejects(connect(hub, operatorPath('dev2'), { Cookie: cookie, Origin: 'https://evil.example' }),
      (e) => e.status === 403);
    await dev.close();
  });
});

describe('login', () => {
  test('a wrong password is 401 and sets no cookie', async () => {
    const res = await request(hub, 'POST', '/api/login', { body: { username: 'admin', password: 'wrong' } });
    assert.equal(res.status, 401);
    assert.equal(res.headers['set-cookie'], undefined);
  });
  test('a wrong user is 401', async () => {
    const res = await request(hub, 'POST', '/api/login', { body: { username: 'root', password: hub.password } });
    assert.equal(res.status, 401);
  });
  test('malformed bodies are 400 / 415', async () => {
    assert.equal((await request(hub, 'POST', '/api/login', { body: '{"username": 1}' })).status, 400);
    assert.equal((await request(hub, 'POST', '/api/login', { body: 'nope' })).status, 400);
    const res = await request(hub, 'POST', '/api/login', {
      body: 'username=admin', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 415);
  });
  test('the session cookie is HttpOnly, Secure, SameSite=Strict; logout ends it', async () => {
    const res = await request(hub, 'POST', '/api/login', { body: { username: 'admin', password: hub.password } });
    assert.equal(res.status, 200);
    const c = res.headers['set-cookie'][0];
    assert.match(c, /HttpOnly/);
    assert.match(c, /SameSite=Strict/);
    assert.match(c, /Secure/);
    const mine = c.split(';')[0];
    assert.equal((await request(hub, 'GET', '/api/session', { cookie: mine })).json.user, 'admin');
    assert.equal((await request(hub, 'POST', '/api/logout', { cookie: mine })).status, 200);
    assert.equal((await request(hub, 'GET', '/api/devices', { cookie: mine })).status, 401);
  });
});

describe('device list and status', () => {
  test('lists devices with online state; records monitoring status', async () => {
    let res = await request(hub, 'GET', '/api/devices', { cookie });
    assert.equal(res.status, 200);
    assert.ok(res.json.some((d) => d.id === 'dev3' && d.online === false));
    const dev = await connectDevice(hub, 'dev3');
    dev.send({
      hdr: { proto: PROTO.MONITORING, typ: 'status' },
      body: encodeBody({ state: 'online', device_id: 'dev3', version: '1.2.3', boot_id: 'b1', uptime_s: 42, inventory: {} }),
    });
    // ping round trip: the status has been handled once the pong is back
    dev.send({ hdr: { proto: CONTROL, typ: 'ping' } });
    await dev.next({ proto: CONTROL, typ: 'pong' });
    res = await request(hub, 'GET', '/api/devices/dev3', { cookie });
    assert.equal(res.status, 200);
    assert.equal(res.json.online, true);
    assert.equal(res.json.version, '1.2.3');
    assert.equal(res.json.status.state, 'online');
    assert.equal(res.json.status.uptime_s, 42);
    assert.ok(res.json.last_seen > Date.now() - 60000);
    await dev.close();
    await new Promise((r) => setTimeout(r, 200));
    res = await request(hub, 'GET', '/api/devices/dev3', { cookie });
    assert.equal(res.json.online, false);
    assert.equal(res.json.version, '1.2.3');
    assert.equal((await request(hub, 'GET', '/api/devices/nope', { cookie })).status, 404);
  });
  test('monitoring records are acknowledged', async () => {
    const dev = await connectDevice(hub, 'dev3');
    dev.send({ hdr: { proto: PROTO.MONITORING, typ: 'data' }, body: encodeBody({ seq: 7, ts: Date.now(), stream: 's', values: { a: 1 } }) });
    const ack = await dev.next({ proto: PROTO.MONITORING, typ: 'ack' });
    assert.deepEqual(errorBody(ack), { seq: 7 });
    await dev.close();
  });
});

describe('bad input', () => {
  test('a malformed frame from a device gets a control error and the link stays', async () => {
    const dev = await connectDevice(hub, 'dev4');
    dev.sendRaw(Buffer.from([0xc1, 0x00, 0xff]));
    const err = await dev.next({ proto: CONTROL, typ: 'error' });
    assert.equal(errorBody(err).close, false);
    dev.sendRaw(Buffer.from('93010203', 'hex')); // an array, not a map
    assert.equal(errorBody(await dev.next({ proto: CONTROL, typ: 'error' })).close, false);
    dev.send({ hdr: { proto: 0x7777, typ: 'x' } }); // unknown proto
    assert.match(errorBody(await dev.next({ proto: CONTROL, typ: 'error' })).err, /unknown proto/);
    dev.send({ hdr: { proto: SHELL, typ: 'bogus', sid: 'x' } }); // unknown typ
    assert.match(errorBody(await dev.next({ proto: CONTROL, typ: 'error' })).err, /unknown shell typ/);
    dev.send({ hdr: { proto: CONTROL, typ: 'ping', sid: 'still' } });
    assert.equal((await dev.next({ proto: CONTROL, typ: 'pong' })).hdr.sid, 'still');
    await dev.close();
  });
  test('a malformed frame from an operator gets a control error and the link stays', async () => {
    const dev = await connectDevice(hub, 'dev4');
    const op = await connectOperator(hub, cookie, 'dev4');
    op.sendRaw(Buffer.from([0xc1]));
    assert.equal(errorBody(await op.next({ proto: CONTROL, typ: 'error' })).close, false);
    op.send({ hdr: { proto: PROTO.MONITORING, typ: 'ack' } }); // not for devices from operators
    assert.equal((await op.next({ proto: CONTROL, typ: 'error' })).hdr.proto, CONTROL);
    op.send({ hdr: { proto: CONTROL, typ: 'ping', sid: 'k' } });
    assert.equal((await op.next({ proto: CONTROL, typ: 'pong' })).hdr.sid, 'k');
    assert.ok(await dev.none({ proto: SHELL }), 'nothing reached the device');
    await op.close();
    await dev.close();
  });
  test('a text message closes with 1003', async () => {
    const dev = await connectDevice(hub, 'dev4');
    dev.sendRaw('hello', false);
    assert.equal((await dev.waitClosed()).code, 1003);
  });
  test('a message over 1 MiB closes with 1009', async () => {
    const dev = await connectDevice(hub, 'dev4');
    dev.sendRaw(Buffer.alloc(1024 * 1024 + 16, 0x90));
    assert.equal((await dev.waitClosed()).code, 1009);
  });
});

describe('operators and devices', () => {
  test('an unknown device is 404, an offline one 409', async () => {
    await assert.rejects(connectOperator(hub, cookie, 'no-such-device'), (e) => e.status === 404);
    await assert.rejects(connectOperator(hub, cookie, 'offline1'), (e) => e.status === 409);
    await assert.rejects(connectOperator(hub, cookie, '../etc'), (e) => e.status === 404);
  });

  test('relays a shell both ways, adds user_id, answers shell pings', async () => {
    const dev = await connectDevice(hub, 'dev5');
    const op = await connectOperator(hub, cookie, 'dev5');
    const seen = await openShell(op, dev, 's1');
    assert.equal(seen.hdr.props.user_id, 'admin');
    assert.equal(seen.hdr.props.terminal_width, 80);
    op.send({ hdr: { proto: SHELL, typ: 'shell', sid: 's1' }, body: 'ls\n' });
    const keys = await dev.next({ proto: SHELL, typ: 'shell', sid: 's1' });
    assert.equal(text(keys.body), 'ls\n');
    assert.equal(keys.hdr.props.user_id, 'admin');
    dev.send({ hdr: { proto: SHELL, typ: 'shell', sid: 's1', props: { status: 1 } }, body: 'file\n' });
    assert.equal(text((await op.next({ proto: SHELL, typ: 'shell', sid: 's1' })).body), 'file\n');
    op.send({ hdr: { proto: SHELL, typ: 'resize', sid: 's1', props: { terminal_width: 100, terminal_height: 30 } } });
    const rs = await dev.next({ proto: SHELL, typ: 'resize', sid: 's1' });
    assert.equal(rs.hdr.props.terminal_width, 100);
    dev.send({ hdr: { proto: SHELL, typ: 'ping', sid: 's1', props: { timeout: 65, status: 3 } } });
    assert.equal((await dev.next({ proto: SHELL, typ: 'pong' })).hdr.sid, 's1');
    // a `new` with no sid gets one from the hub
    op.send({ hdr: { proto: SHELL, typ: 'new', props: { terminal_width: 80, terminal_height: 24 } } });
    const auto = await dev.next({ proto: SHELL, typ: 'new' });
    assert.ok(auto.hdr.sid.length >= 16);
    await op.close();
    // the operator went away: both of its shells are stopped on the device
    const stops = [await dev.next({ proto: SHELL, typ: 'stop' }), await dev.next({ proto: SHELL, typ: 'stop' })];
    assert.deepEqual(stops.map((m) => m.hdr.sid).sort(), ['s1', auto.hdr.sid].sort());
    assert.equal(stops[0].hdr.props.user_id, 'admin');
    // output for a session nobody owns is answered with a stop
    dev.send({ hdr: { proto: SHELL, typ: 'shell', sid: 'orphan', props: { status: 1 } }, body: 'x' });
    assert.equal((await dev.next({ proto: SHELL, typ: 'stop' })).hdr.sid, 'orphan');
    await dev.close();
  });

  test('two operators on one device cannot drive each other\'s sessions', async () => {
    const dev = await connectDevice(hub, 'dev6');
    const a = await connectOperator(hub, cookie, 'dev6');
    const b = await connectOperator(hub, cookie, 'dev6');
    await openShell(a, dev, 'sa');
    await openShell(b, dev, 'sb');
    // b tries a's session: refused, nothing reaches the device
    b.send({ hdr: { proto: SHELL, typ: 'shell', sid: 'sa' }, body: 'rm -rf /\n' });
    assert.match(errorBody(await b.next({ proto: CONTROL, typ: 'error' })).err, /session not found/);
    b.send({ hdr: { proto: SHELL, typ: 'new', sid: 'sa' } });
    assert.match(errorBody(await b.next({ proto: CONTROL, typ: 'error' })).err, /in use/);
    b.send({ hdr: { proto: SHELL, typ: 'stop', sid: 'sa' } });
    await b.next({ proto: CONTROL, typ: 'error' });
    assert.ok(await dev.none({ sid: 'sa' }), 'nothing for sa reached the device');
    // output goes to its owner only
    dev.send({ hdr: { proto: SHELL, typ: 'shell', sid: 'sa', props: { status: 1 } }, body: 'for a' });
    dev.send({ hdr: { proto: SHELL, typ: 'shell', sid: 'sb', props: { status: 1 } }, body: 'for b' });
    assert.equal(text((await a.next({ proto: SHELL, typ: 'shell' })).body), 'for a');
    assert.equal(text((await b.next({ proto: SHELL, typ: 'shell' })).body), 'for b');
    assert.ok(await a.none({ proto: SHELL, typ: 'shell' }));
    // b's "stop all mine" stops only sb
    b.send({ hdr: { proto: SHELL, typ: 'stop' } });
    assert.equal((await dev.next({ proto: SHELL, typ: 'stop' })).hdr.sid, 'sb');
    assert.ok(await dev.none({ proto: SHELL, typ: 'stop', sid: 'sa' }));
    await a.close();
    await b.close();
    await dev.close();
  });

  test('when the device drops, the operator is told and closed', async () => {
    const dev = await connectDevice(hub, 'dev7');
    const op = await connectOperator(hub, cookie, 'dev7');
    await openShell(op, dev, 's7');
    dev.ws.terminate();
    const stop = await op.next({ proto: SHELL, typ: 'stop', sid: 's7' });
    assert.equal(stop.hdr.props.status, 2);
    const err = errorBody(await op.next({ proto: CONTROL, typ: 'error' }));
    assert.equal(err.close, true);
    assert.match(err.err, /device disconnected/);
    assert.equal((await op.waitClosed()).code, 1001);
  });

  test('a device reconnecting replaces its old link; attached operators are told', async () => {
    const dev = await connectDevice(hub, 'dev7');
    const op = await connectOperator(hub, cookie, 'dev7');
    await openShell(op, dev, 'r1');
    const dev2 = await connectDevice(hub, 'dev7');
    assert.equal((await dev.waitClosed()).code, 1000);
    assert.equal((await op.next({ proto: SHELL, typ: 'stop', sid: 'r1' })).hdr.props.status, 2);
    assert.match(errorBody(await op.next({ proto: CONTROL, typ: 'error' })).err, /reconnected/);
    await op.waitClosed();
    // the new link is the live one
    const op2 = await connectOperator(hub, cookie, 'dev7');
    await openShell(op2, dev2, 'r2');
    assert.equal((await request(hub, 'GET', '/api/devices/dev7', { cookie })).json.online, true);
    await op2.close();
    await dev2.next({ proto: SHELL, typ: 'stop', sid: 'r2' });
    await dev2.close();
  });

  test('operators per device are bounded', async () => {
    const dev = await connectDevice(hub, 'dev5');
    const ops = [];
    for (let i = 0; i < 8; i++) ops.push(await connectOperator(hub, cookie, 'dev5'));
    await assert.rejects(connectOperator(hub, cookie, 'dev5'), (e) => e.status === 429);
    await Promise.all(ops.map((o) => o.close()));
    await dev.close();
  });

  test('sessions per operator are bounded', async () => {
    const dev = await connectDevice(hub, 'dev5');
    const op = await connectOperator(hub, cookie, 'dev5');
    for (let i = 0; i < 4; i++) await openShell(op, dev, `m${i}`);
    op.send({ hdr: { proto: SHELL, typ: 'new', sid: 'm4' } });
    const refused = await op.next({ proto: SHELL, typ: 'new', sid: 'm4' });
    assert.equal(refused.hdr.props.status, 2);
    assert.ok(await dev.none({ sid: 'm4' }));
    await op.close();
    await dev.close();
  });
});

describe('login attempts are rate limited', () => {
  test('a burst of wrong passwords ends in 429', async () => {
    const results = [];
    for (let i = 0; i < 14; i++) {
      results.push((await request(hub, 'POST', '/api/login', { body: { username: 'admin', password: `guess${i}` } })).status);
    }
    assert.ok(results.includes(429), `statuses: ${results}`);
    assert.ok(results.every((s) => s === 401 || s === 429), `statuses: ${results}`);
  });
});

describe('keepalive', () => {
  test('the hub pings an idle device link (hub.ping-interval = 5 here)', async () => {
    const dev = await connectDevice(hub, 'dev1');
    const pinged = await new Promise((r) => {
      const timer = setTimeout(() => r(false), 8000);
      dev.ws.once('ping', () => { clearTimeout(timer); r(true); });
    });
    assert.ok(pinged, 'no WebSocket ping within 8 s');
    await dev.close();
  });
});
