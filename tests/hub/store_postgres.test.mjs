// tether-hub with `store.url = postgresql://...`: the device registry (filled by
// --add-device), monitoring records and the audit trail live in a private
// PostgreSQL (tests/hub/postgres.mjs), not in the state directory, and a second hub
// with a state directory of its own sees all of it. A store.url the hub cannot
// use stops it at start with exit 2, naming the option and never the password.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  startHub, login, request, connectDevice, PROTO, encodeBody, decodeBody, hubBin,
} from './helpers.mjs';
import { startPostgres } from './postgres.mjs';

const MON = PROTO.MONITORING;

let pg;
let storeUrl;

before(async () => {
  pg = await startPostgres();
  storeUrl = await pg.createDatabase();
});

after(async () => {
  if (pg) await pg.stop();
});

function dataMsg(seq, stream, values) {
  return { hdr: { proto: MON, typ: 'data' }, body: encodeBody({ seq, ts: Date.now(), stream, values }) };
}

async function ackUpTo(dev, seq, timeoutMs = 10000) {
  for (;;) {
    const m = await dev.next({ proto: MON, typ: 'ack' }, timeoutMs);
    const acked = decodeBody(m.body).seq;
    if (acked >= seq) return acked;
  }
}

describe('store.url = postgresql://', () => {
  test('registry, records and audit are in PostgreSQL and shared by a second hub', async () => {
    const extra = ['[store]', `url = ${storeUrl}`].join('\n');
    const first = await startHub({ devices: ['pg1', 'pg2'], extra });
    let second;
    try {
      // Nothing of these stores in the state directory.
      for (const file of ['hub.db', 'monitoring.db']) {
        assert.ok(!existsSync(join(first.dir, 'state', file)), `${file} in the state dir`);
      }
      assert.doesNotMatch(first.log(), new RegExp(pg.password));
      const cookie = await login(first);
      const dev = await connectDevice(first, 'pg1');
      for (let i = 1; i <= 150; i++) dev.send(dataMsg(i, 'env', { temp: i }));
      assert.equal(await ackUpTo(dev, 150), 150);
      // Re-sent records are acked again and kept once.
      for (let i = 100; i <= 150; i++) dev.send(dataMsg(i, 'env', { temp: -i }));
      assert.equal(await ackUpTo(dev, 150), 150);
      let res = await request(first, 'GET', '/api/devices/pg1/telemetry', { cookie });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.records, 150);
      assert.deepEqual(res.json.latest.map((r) => [r.stream, r.seq, r.values.temp]), [['env', 150, 150]]);
      await dev.close();

      // A second instance, its own state directory, the same database: it knows
      // the devices and their tokens, the records and the audit trail.
      second = await startHub({ devices: [], extra, password: first.password });
      second.tokens = first.tokens;
      const cookie2 = await login(second);
      res = await request(second, 'GET', '/api/devices', { cookie: cookie2 });
      assert.equal(res.status, 200, res.text);
      const ids = res.json.map((d) => d.id).sort();
      assert.deepEqual(ids, ['pg1', 'pg2']);
      res = await request(second, 'GET', '/api/devices/pg1/telemetry', { cookie: cookie2 });
      assert.equal(res.json.records, 150);
      const again = await connectDevice(second, 'pg2');
      again.send(dataMsg(1, 'power', { volts: 12 }));
      assert.equal(await ackUpTo(again, 1), 1);
      await again.close();
      res = await request(first, 'GET', '/api/devices/pg2/telemetry', { cookie });
      assert.equal(res.json.records, 1);
      res = await request(second, 'GET', '/api/audit?format=jsonl&limit=1000', { cookie: cookie2 });
      assert.equal(res.status, 200, res.text);
      const events = res.text.trim().split('\n').map((l) => JSON.parse(l));
      for (const device of ['pg1', 'pg2']) {
        assert.ok(events.some((e) => e.action === 'device.register' && e.device === device), res.text);
      }
      // Both hubs' logins are in the one trail.
      assert.ok(events.filter((e) => e.action === 'login' && e.outcome === 'ok').length >= 2, res.text);
    } finally {
      if (second) await second.stop();
      await first.stop();
    }
  });

  test('an unusable store.url stops the hub with exit 2, naming the option, not the password', () => {
    for (const url of ['mysql://hub:s3cret@db/x', 'sqlite:', 'postgresql://hub:s3cret@db/x?no_such_option=1']) {
      const run = spawnSync(hubBin, [`--store.url=${url}`, '--add-device', 'x', '--token-file', '/dev/null'],
        { encoding: 'utf8', timeout: 10000 });
      assert.equal(run.status, 2, `${url}: ${run.stderr}`);
      assert.match(run.stderr, /store\.url/);
      assert.doesNotMatch(run.stderr, /s3cret/);
    }
  });
});
