// hub-ingest: records/s that tether-hub acknowledges after its own commit, with
// 1, 8 and 64 fake devices sending at once (each keeps `window` records in flight,
// as tetherd's monitoring.window does), next to the floor measured in the same
// run: the monitoring store's raw batched insert rate (hub-monitoring-floor).
//
//   TETHER_HUB_BIN=build/hub/tether-hub HUB_FLOOR_BIN=build/bench/hub-monitoring-floor \
//     node bench/hub-ingest.mjs [records-per-run=20000] [window=256]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, connectDevice, PROTO, encodeBody, decodeBody, repo } from '../tests/hub/helpers.mjs';

const total = Number(process.argv[2] || 20000);
const window = Number(process.argv[3] || 256);
const concurrencies = [1, 8, 64];
const floorBin = process.env.HUB_FLOOR_BIN || join(repo, 'build/bench/hub-monitoring-floor');

// One device's stream: `count` records, `window` in flight; resolves when all are acked.
function stream(dev, count) {
  return new Promise((resolve) => {
    let sent = 0;
    let acked = 0;
    const fill = () => {
      while (sent < count && sent - acked < window) {
        sent += 1;
        dev.send({
          hdr: { proto: PROTO.MONITORING, typ: 'data' },
          body: encodeBody({ seq: sent, ts: Date.now(), stream: 'bench', values: { n: sent, temp: 21.5 } }),
        });
      }
    };
    dev.ws.on('message', () => {
      for (const m of dev.inbox.splice(0)) {
        if (m.hdr && m.hdr.typ === 'ack') acked = Math.max(acked, decodeBody(m.body).seq);
      }
      if (acked >= count) resolve();
      else fill();
    });
    fill();
  });
}

const ids = Array.from({ length: Math.max(...concurrencies) * concurrencies.length }, (_, i) => `b${i}`);
const hub = await startHub({ devices: ids });
const results = [];
// The hub's user+system CPU seconds so far (utime and stime, fields 14 and 15).
const hubCpu = () => {
  const fields = readFileSync(`/proc/${hub.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
try {
  let next = 0;
  for (const n of concurrencies) {
    const devs = [];
    for (let i = 0; i < n; i++) devs.push(await connectDevice(hub, ids[next++]));
    const per = Math.ceil(total / n);
    const cpu0 = hubCpu();
    const t0 = process.hrtime.bigint();
    await Promise.all(devs.map((d) => stream(d, per)));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = hubCpu() - cpu0;
    results.push({ n, records: per * n, secs, rate: (per * n) / secs, cpu });
    await Promise.all(devs.map((d) => d.close()));
  }
} finally {
  await hub.stop();
}
const floorOut = execFileSync(floorBin, [String(total), '8']).toString().trim();
const floor = Number(floorOut.match(/= (\d+) records\/s/)[1]);
console.log(floorOut);
for (const r of results) {
  console.log(`hub ingest, ${String(r.n).padStart(2)} devices: ${r.records} records acked after commit in ` +
    `${r.secs.toFixed(3)} s = ${Math.round(r.rate)} records/s (${(r.rate / floor * 100).toFixed(0)}% of the floor), ` +
    `hub CPU ${(r.cpu / r.records * 10000).toFixed(2)} s per 10 000 records`);
}
