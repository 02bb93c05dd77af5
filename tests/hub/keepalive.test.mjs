// The hub's keepalive sweep (hub/server/keepalive.hpp) against real WebSockets:
// with hub.ping-interval = 1 s, a device that stops answering pings is dropped
// within twice the interval (plus one sweep), and one that answers is kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, connectDevice, devicePath, WebSocket } from './helpers.mjs';

let hub;

before(async () => {
  hub = await startHub({ devices: ['alive', 'dead'], pingInterval: 1 });
});

after(async () => {
  if (hub) await hub.stop();
});

test('a device that stops answering pings is dropped in time; one that answers is kept', async () => {
  const alive = await connectDevice(hub, 'alive');
  let alivePings = 0;
  alive.ws.on('ping', () => { alivePings += 1; });

  // `ws` answers pings by itself unless autoPong is off: this one reads (so TCP
  // stays healthy) but never answers, like a device whose process hung.
  const dead = new WebSocket(`wss://localhost:${hub.port}${devicePath}`, {
    ca: hub.ca, headers: { Authorization: `Bearer ${hub.tokens.dead}` }, autoPong: false,
  });
  let deadPings = 0;
  dead.on('ping', () => { deadPings += 1; });
  await new Promise((resolve, reject) => { dead.once('open', resolve); dead.once('error', reject); });
  const t0 = Date.now();
  const closedAfterMs = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 10000);
    dead.once('close', () => { clearTimeout(timer); resolve(Date.now() - t0); });
  });
  assert.notEqual(closedAfterMs, null, 'the silent device was not dropped within 10 s');
  // Pinged after 1 s of silence, hung up after 2 s; the sweep runs every second.
  assert.ok(closedAfterMs >= 1500, `dropped after ${closedAfterMs} ms, before it could answer a ping`);
  // Slack for a loaded CI machine, still under the 7 s lws's per-link timer gave (2 x 1 + 5).
  assert.ok(closedAfterMs <= 6000, `dropped after ${closedAfterMs} ms, later than 2 x ping-interval + a sweep`);
  assert.ok(deadPings >= 1, 'the silent device was never pinged');

  // The one that answered has been pinged as well and is still connected.
  assert.ok(alivePings >= 1, 'the live device was never pinged');
  assert.equal(alive.ws.readyState, WebSocket.OPEN, 'the live device was dropped');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(alive.ws.readyState, WebSocket.OPEN, `the live device was dropped:\n${hub.log()}`);
  assert.match(hub.log(), /device dead disconnected/);
  assert.doesNotMatch(hub.log(), /device alive disconnected/);
  await alive.close();
});

