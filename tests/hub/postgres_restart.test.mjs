// A hub on a private PostgreSQL whose server goes away for a few seconds and comes
// back while simulated devices stream records (issue #19): ingest pauses (no acks
// while the store cannot commit), resumes by itself without restarting the hub,
// and in the end every record each device made is stored exactly once (the
// devices kept what was not acknowledged and sent it again).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, runSim, devicesOn, until, operatorFrom } from './cluster_rig.mjs';

const DEVICES = 20;
const RATE = 20; // per device and second
const RECORDS = 400; // 20 s of records: the outage lands in them
const OUTAGE_MS = 5000;
let cluster;
let sim;

before(async () => {
  cluster = await startCluster({ instances: 1, haproxy: false, bus: false, postgres: true, devices: DEVICES });
});

after(async () => {
  if (sim) await sim.stop();
  if (cluster) await cluster.stop();
});

test('ingest pauses while PostgreSQL is down and resumes without a hub restart, losing and duplicating nothing', async (t) => {
  const hub = cluster.hubs[0];
  const statsFile = join(cluster.dir, 'stats.csv');
  sim = runSim(cluster, ['--rate', String(RATE), '--records', String(RECORDS), '--exit-when-acked',
    '--duration', '90', '--backoff-base', '0.2', '--backoff-max', '1', '--seed', '5',
    '--stats', statsFile, '--stats-interval', '0.1']);
  // The fleet's counters from the simulator's last stats line.
  const stats = () => {
    let lines;
    try {
      lines = readFileSync(statsFile, 'utf8').trim().split('\n');
    } catch {
      return { at: 0, made: 0, sent: 0, acked: 0 };
    }
    const f = lines[lines.length - 1].split(',').map(Number);
    return { at: f[0], made: f[4], sent: f[5], acked: f[6] };
  };
  await until(`${DEVICES} devices online`, () => devicesOn(hub).size === DEVICES, 30000);
  // Logged in before the outage (the login session is in the hub's memory).
  const op = await operatorFrom(cluster, '127.0.0.1');
  await until('records acked', () => stats().acked >= DEVICES * 20, 20000, 50);

  const pg = cluster.postgres;
  await pg.stopServer();
  const stoppedAt = Date.now();
  // Acks of commits made before the server went are let through first: a commit
  // gathers up to a second of records and a device's ack may be held up to two
  // seconds after it (docs/hub.md, Monitoring).
  await new Promise((r) => setTimeout(r, 3500));
  const during = stats();
  await until('records made during the outage', () => stats().made >= during.made + DEVICES * RATE * 2, 10000, 50);
  const late = stats();
  assert.equal(late.acked, during.acked, `acks went on while PostgreSQL was down: ${JSON.stringify([during, late])}`);
  await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
  assert.match(hub.log(), /storing records of/, 'the hub said nothing of the failed commits');
  await pg.startServer();

  // Ingest resumes by itself: the same hub process, acks moving again.
  await until('acks after the restart', () => stats().acked > late.acked, 60000, 50);
  assert.equal(hub.child.exitCode, undefined, 'the hub exited');

  assert.equal(await sim.exited, 0, `${sim.output()}\n${hub.log().slice(-3000)}`);
  const summary = sim.summary();
  assert.equal(summary.devices, DEVICES);
  for (const d of summary.per_device) {
    assert.equal(d.last_seq, RECORDS, d.id);
    assert.equal(d.acked_seq, RECORDS, d.id);
  }
  // In the store: exactly seq 1..RECORDS for every device, each once.
  const want = JSON.stringify(Array.from({ length: RECORDS }, (_, i) => i + 1));
  const wrong = [];
  for (const d of summary.per_device) {
    const res = await op.request('GET', `/api/devices/${d.id}/telemetry/records?after=0&limit=1000`);
    assert.equal(res.status, 200, res.text);
    const seqs = res.json.records.map((r) => r.seq).sort((a, b) => a - b);
    if (JSON.stringify(seqs) !== want) {
      const have = new Set(seqs);
      const missing = Array.from({ length: RECORDS }, (_, i) => i + 1).filter((s) => !have.has(s));
      wrong.push(`${d.id}: ${seqs.length} stored, missing ${missing.join(',')}`);
    }
  }
  assert.deepEqual(wrong, []);
  const resent = summary.per_device.reduce((n, d) => n + d.records_sent - RECORDS, 0);
  t.diagnostic(`outage ${OUTAGE_MS} ms; ${resent} records sent again; ` +
    `${summary.per_device.reduce((n, d) => n + d.connects, 0)} connects`);
});
