// cluster: three tether-hub instances on NATS behind HAProxy against one plain
// instance behind the same HAProxy (its floor, measured in the same run), with
// tether-sim as the fleet. Per configuration, in alternating rounds:
//
//   held       devices online (all N?) and seconds until all were, through HAProxy
//   ingest     records/s acknowledged after commit while every device sends
//              `rate` records/s (tether-sim's stats), and the hubs' CPU meanwhile
//   echo       operator keystroke -> device echo -> operator, p50/p99, on a device
//              whose link is on the operator's instance (same) and on another
//              instance (cross: over the bus both ways), while ingest runs
//
// The store is the instances' shared state dir (SQLite), or TETHER_STORE_URL.
//
//   TETHER_HUB_BIN=build/test/hub/tether-hub TETHER_SIM_BIN=build/test/hub/tether-sim \
//     node bench/cluster.mjs [devices=300] [rate=20] [ingest-s=10] [echoes=200] [rounds=3]
//
// See docs/performance.md "Several hub instances" for the figures; on one machine
// the instances share its cores, so this shows the cluster's overhead, not CPU
// scale-out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  startCluster, runSim, devicesOn, until, operatorFrom, openShell, echo,
} from '../tests/hub/cluster_rig.mjs';

const N = Number(process.argv[2] || 300);
const RATE = Number(process.argv[3] || 20);
const INGEST_S = Number(process.argv[4] || 10);
const ECHOES = Number(process.argv[5] || 200);
const ROUNDS = Number(process.argv[6] || 3);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ticks = () => 100; // USER_HZ (CLK_TCK) on Linux
const cpuSeconds = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / ticks();
};

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The last stats line of the simulator's CSV: {elapsed, online, acked}.
function lastStats(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const f = lines[lines.length - 1].split(',').map(Number);
  return { elapsed: f[0], online: f[1], disconnects: f[3], acked: f[6] };
}

async function echoes(op, device, count) {
  const ws = await op.attach(device);
  await openShell(ws, 'bench');
  const times = [];
  for (let i = 0; i < count; i++) times.push(await echo(ws, 'bench', `k${i}\n`));
  await ws.close();
  return times.sort((a, b) => a - b);
}

async function round(instances) {
  const cluster = await startCluster({
    instances, devices: N, bus: instances > 1, maxConnections: N + 512,
  });
  try {
    const statsFile = join(cluster.dir, 'stats.csv');
    const started = Date.now();
    const sim = runSim(cluster, ['--rate', String(RATE), '--start-paused', '--stats', statsFile,
      '--stats-interval', '0.5', '--backoff-max', '5', '--seed', '9']);
    const onlineCount = () => cluster.hubs.reduce((n, h) => n + devicesOn(h).size, 0);
    await until(`${N} online`, () => onlineCount() === N, 120000, 50);
    const held = { online: onlineCount(), seconds: (Date.now() - started) / 1000 };
    const perInstance = cluster.hubs.map((h) => devicesOn(h).size);

    const op = await operatorFrom(cluster, '127.0.0.1');
    const same = [...devicesOn(op.hub)][0];
    const otherHub = cluster.hubs.find((h) => h !== op.hub && devicesOn(h).size > 0);
    const cross = otherHub ? [...devicesOn(otherHub)][0] : null;

    sim.proc.kill('SIGUSR1'); // start making records
    await sleep(2000); // past the first second's burst
    const before = lastStats(statsFile);
    const cpuBefore = cluster.hubs.map((h) => cpuSeconds(h.child.proc.pid));
    const othersBefore = [sim.proc.pid, cluster.haproxy.proc.pid].map(cpuSeconds);
    const t0 = Date.now();
    // Echoes run during the ingest window, same-instance then cross-instance.
    const echoSame = await echoes(op, same, ECHOES);
    const echoCross = cross ? await echoes(op, cross, ECHOES) : null;
    const left = INGEST_S * 1000 - (Date.now() - t0);
    if (left > 0) await sleep(left);
    const after = lastStats(statsFile);
    const cpu = cluster.hubs.map((h, i) => cpuSeconds(h.child.proc.pid) - cpuBefore[i]);
    const [simCpu, haproxyCpu] = [sim.proc.pid, cluster.haproxy.proc.pid].map((pid, i) => cpuSeconds(pid) - othersBefore[i]);
    const window = after.elapsed - before.elapsed;
    await sim.stop();
    return {
      instances,
      held,
      perInstance,
      ingest: (after.acked - before.acked) / window,
      offered: N * RATE,
      disconnects: after.disconnects - before.disconnects,
      hubCpu: cpu.reduce((a, b) => a + b, 0) / window,
      simCpu: simCpu / window,
      haproxyCpu: haproxyCpu / window,
      echoSame: { p50: percentile(echoSame, 50), p99: percentile(echoSame, 99) },
      echoCross: echoCross && { p50: percentile(echoCross, 50), p99: percentile(echoCross, 99) },
    };
  } finally {
    await cluster.stop();
  }
}

const results = { 1: [], 3: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const instances of [1, 3]) {
    const res = await round(instances);
    results[instances].push(res);
    console.log(`round ${r + 1}, ${instances} instance(s): all ${res.held.online} online after ` +
      `${res.held.seconds.toFixed(1)} s (${res.perInstance.join(' / ')}), ` +
      `ingest ${res.ingest.toFixed(0)} /s of ${res.offered} offered, CPU hubs/sim/haproxy ` +
      `${[res.hubCpu, res.simCpu, res.haproxyCpu].map((c) => (c * 100).toFixed(0)).join('/')} % of a core, ` +
      `${res.disconnects} disconnects, echo same p50/p99 ${res.echoSame.p50.toFixed(1)}/${res.echoSame.p99.toFixed(1)} ms` +
      (res.echoCross ? `, cross ${res.echoCross.p50.toFixed(1)}/${res.echoCross.p99.toFixed(1)} ms` : ''));
  }
}

const m = (k, f) => median(results[k].map(f));
const one = {
  online: m(1, (r) => r.held.seconds), ingest: m(1, (r) => r.ingest), cpu: m(1, (r) => r.hubCpu),
  p50: m(1, (r) => r.echoSame.p50), p99: m(1, (r) => r.echoSame.p99),
};
const three = {
  online: m(3, (r) => r.held.seconds), ingest: m(3, (r) => r.ingest), cpu: m(3, (r) => r.hubCpu),
  p50: m(3, (r) => r.echoSame.p50), p99: m(3, (r) => r.echoSame.p99),
  xp50: m(3, (r) => r.echoCross.p50), xp99: m(3, (r) => r.echoCross.p99),
};
console.log(`\nmedians of ${ROUNDS} rounds, ${N} devices at ${RATE} records/s each (${N * RATE} /s offered):`);
console.log(`  all online after     1 instance ${one.online.toFixed(1)} s    3 instances ${three.online.toFixed(1)} s`);
console.log(`  ingest acked         1 instance ${one.ingest.toFixed(0)} /s    3 instances ${three.ingest.toFixed(0)} /s` +
  `    ratio 3/1 ${(three.ingest / one.ingest).toFixed(2)}`);
console.log(`  hubs' CPU (cores)    1 instance ${one.cpu.toFixed(2)}    3 instances ${three.cpu.toFixed(2)}`);
console.log(`  echo p50 / p99       1 instance ${one.p50.toFixed(1)} / ${one.p99.toFixed(1)} ms` +
  `    3 instances, same ${three.p50.toFixed(1)} / ${three.p99.toFixed(1)} ms, cross ${three.xp50.toFixed(1)} / ${three.xp99.toFixed(1)} ms` +
  `    cross/same p50 ${(three.xp50 / three.p50).toFixed(2)}`);
