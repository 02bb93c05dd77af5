// Commands end to end through the hub's JSON API: a real tether-hub, a real tetherd
// on a private bus, and examples/relay.sh served as target `relay` by
// `tetherctl serve` (plus a slow script for the timeout). Every outcome the hub can
// hear from a live device, the history with who sent each request, the targets,
// and the API's refusals.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, login, request, repo } from './helpers.mjs';
import { startGateway } from './gateway.mjs';

const DEVICE = 'gw-cmd';
let hub;
let gateway;
let cookie;
let relayFile;

const api = (method, path, body) => request(hub, method, path, { body, cookie });

// Polls until `check(value)` is truthy; returns that value.
async function until(what, fetchValue, check, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fetchValue();
    if (check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: still ${JSON.stringify(last)}\nhub:\n${hub.log()}\ngateway:\n${gateway.log()}`);
}

async function send(body) {
  const res = await api('POST', `/api/devices/${DEVICE}/commands`, body);
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.status, 'pending');
  assert.match(res.json.id, /^[0-9a-f]{32}$/);
  return res.json.id;
}

async function outcome(id) {
  const res = await until(`command ${id}`, () => api('GET', `/api/devices/${DEVICE}/commands/${id}`),
    (r) => r.status === 200 && r.json.status !== 'pending');
  return res.json;
}

before(async () => {
  hub = await startHub({ devices: [DEVICE, 'gw-away'] });
  cookie = await login(hub);
  gateway = await startGateway(hub, DEVICE);
  await gateway.ready();
  relayFile = join(gateway.dir, 'relay-value');
  writeFileSync(relayFile, '0\n');
  gateway.serve('relay', [join(repo, 'examples/relay.sh')], { RELAY_FILE: relayFile });
  gateway.serve('slow', ['/bin/sh', '-c', 'sleep 30']);
  // Notes each run in a file, then takes its time.
  gateway.serve('marked', ['/bin/sh', '-c', `echo "$TETHER_REQUEST_ID" >> '${join(gateway.dir, 'runs')}'; sleep 30`]);
  await until('the targets', () => api('GET', `/api/devices/${DEVICE}/command-targets`),
    (r) => r.status === 200 && r.json.online && ['relay', 'slow', 'marked'].every((t) => r.json.targets.includes(t)));
});

after(async () => {
  if (gateway) await gateway.stop();
  if (hub) await hub.stop();
});

test('a served script answers ok with its ret, and the relay file follows', async () => {
  const on = await send({ target: 'relay', action: 'on', args: { channel: 2 } });
  const done = await outcome(on);
  assert.equal(done.status, 'ok');
  assert.deepEqual(done.ret, { on: true, request: on });
  assert.equal(done.err, null);
  assert.equal(done.user, 'admin');
  assert.deepEqual(done.args, { channel: 2 });
  assert.equal(readFileSync(relayFile, 'utf8').trim(), '1');
  const toggled = await outcome(await send({ target: 'relay', action: 'toggle' }));
  assert.deepEqual(toggled.ret.on, false);
  assert.equal(readFileSync(relayFile, 'utf8').trim(), '0');
});

test('error, no-target and timeout come back as outcomes', async () => {
  const failed = await outcome(await send({ target: 'relay', action: 'explode' }));
  assert.equal(failed.status, 'error');
  assert.equal(failed.err, "unknown action 'explode' (on, off, toggle, get)");
  const nobody = await outcome(await send({ target: 'nobody', action: 'on' }));
  assert.equal(nobody.status, 'no-target');
  const slow = await outcome(await send({ target: 'slow', action: 'wait', timeout_s: 1 }));
  assert.equal(slow.status, 'timeout');
});

test('the history lists every request, newest first, with who sent it', async () => {
  const res = await api('GET', `/api/devices/${DEVICE}/commands`);
  assert.equal(res.status, 200);
  assert.ok(res.json.length >= 5);
  assert.deepEqual(res.json.slice(0, 5).map((c) => c.status), ['timeout', 'no-target', 'error', 'ok', 'ok']);
  assert.ok(res.json.every((c) => c.user === 'admin' && c.device === DEVICE));
  assert.ok(res.json[0].created >= res.json[1].created);
  // Each outcome was acked: none is re-sent, the hub logged no unknown result.
  assert.doesNotMatch(hub.log(), /unknown command/);
});

test('the API refuses garbage, wrong types and offline devices with a sentence', async () => {
  const post = (body, device = DEVICE) => api('POST', `/api/devices/${device}/commands`, body);
  let res = await post('{"target": "relay", "act');
  assert.equal(res.status, 400);
  assert.match(res.json.error, /not JSON/);
  res = await post({ target: 'relay', action: 'on', args: [1] });
  assert.equal(res.status, 400);
  assert.equal(res.json.error, 'args must be a JSON object');
  res = await post({ target: 'relay', action: 'on', timeout_s: 'soon' });
  assert.equal(res.status, 400);
  res = await post({ target: 'relay', action: 'on' }, 'gw-away');
  assert.equal(res.status, 409);
  assert.match(res.json.error, /offline/);
  res = await post({ target: 'relay', action: 'on' }, 'nobody-here');
  assert.equal(res.status, 404);
  res = await post({ target: 'relay', action: 'on', args: { blob: 'x'.repeat(20000) } });
  assert.equal(res.status, 413);  // the API's body limit
  res = await request(hub, 'POST', `/api/devices/${DEVICE}/commands`, { body: { target: 'relay', action: 'on' } });
  assert.equal(res.status, 401);  // no session
  res = await api('GET', `/api/devices/${DEVICE}/commands/0123`);
  assert.equal(res.status, 404);
});

test('a request running when tetherd is killed (-9) ends once, after the restart', async () => {
  const runs = join(gateway.dir, 'runs');
  const id = await send({ target: 'marked', action: 'work', timeout_s: 60 });
  await until('the script to start', async () => existsSync(runs) && readFileSync(runs, 'utf8'), (t) => t && t.includes(id));
  await gateway.killAndRestart();
  // The hub sends the still-pending request again on the new link; the device has
  // seen its id, so it is not run again: the stored outcome (timeout, as the
  // daemon ends a request its stop interrupted) comes back instead, once.
  const done = await outcome(id);
  assert.equal(done.status, 'timeout');
  assert.equal(readFileSync(runs, 'utf8').trim().split('\n').filter((l) => l === id).length, 1);
  const res = await api('GET', `/api/devices/${DEVICE}/commands`);
  assert.equal(res.json.filter((c) => c.id === id).length, 1);
});
