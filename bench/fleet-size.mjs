// fleet-size: N simulated devices (tether-sim) on one tether-hub. Measures, in one
// run, against the hub's own floor (the same hub with no device connected):
//
//   memory      hub VmRSS / Pss / USS with N idle devices, and per device
//   idle CPU    hub CPU over a window with every device connected and idle
//               (keepalive pings at hub.ping-interval / the daemon's 30 s)
//   ingest      records/s the hub acknowledged (acks go out after the commit)
//               while every device sends records
//   shell echo  operator keystroke -> device echo -> operator, p50/p99/max,
//               to one device while the fleet is ingesting
//   restart     SIGKILL the hub, start it again: seconds until all N are back,
//               and the reconnect rate over time (table + SVG plot)
//
//   TETHER_HUB_BIN=build/test/hub/tether-hub TETHER_SIM_BIN=build/test/hub/tether-sim \
//     node bench/fleet-size.mjs [devices=1000] [rate=10] [idle-s=35] [ingest-s=20] [backoff-max-s=30] [svg-out]
//
// See docs/performance.md "Fleet size" for the figures and how to run 10 000.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { getPriority, setPriority } from 'node:os';
import { makeCerts, hashPassword, tempDir, hubBin, repo, login, connectOperator, PROTO, text } from '../tests/hub/helpers.mjs';

const N = Number(process.argv[2] || 1000);
const RATE = Number(process.argv[3] || 10);
const IDLE_S = Number(process.argv[4] || 35);
const INGEST_S = Number(process.argv[5] || 20);
const BACKOFF_MAX_S = Number(process.argv[6] || 30);
const SVG_OUT = process.argv[7] || '';
const simBin = process.env.TETHER_SIM_BIN || join(repo, 'build/hub/tether-sim');
const simNice = Math.min(19, getPriority() + Number(process.env.FLEET_SIM_NICE ?? 10));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const dir = tempDir('tether-fleet-');
const certs = makeCerts(dir);
const password = 'bench-' + Math.random().toString(36).slice(2);
const configFile = join(dir, 'hub.conf');
const writeConfig = (port) => writeFileSync(configFile, [
  '[listen]', 'address = 127.0.0.1', `port = ${port}`,
  '[tls]', `cert-file = ${certs.cert}`, `key-file = ${certs.key}`,
  '[hub]', `state-dir = ${join(dir, 'state')}`,
  '[operator]', 'username = admin', `password-hash = ${hashPassword(password)}`,
  '[limits]', `max-connections = ${N + 512}`,
  '[log]', 'level = warn', ''].join('\n'));

function startHub() {
  const proc = spawn(hubBin, ['--config', configFile, '--log.level', 'info'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 30000);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        proc.stderr.removeListener('data', onData);
        // FLEET_HUB_LOG=file keeps the hub's log (both runs, appended).
        if (process.env.FLEET_HUB_LOG) proc.stderr.pipe(createWriteStream(process.env.FLEET_HUB_LOG, { flags: 'a' }));
        else proc.stderr.resume();
        resolve({ proc, port: Number(m[1]) });
      }
    };
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`hub exited with ${code}:\n${output}`)); });
  });
}

// utime + stime of a process, seconds.
const cpuOf = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
};
function memoryOf(pid) {
  const kb = (text, key) => Number((text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm')) || [0, 0])[1]);
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    vmrss: kb(status, 'VmRSS'), pss: kb(rollup, 'Pss'),
    uss: kb(rollup, 'Private_Clean') + kb(rollup, 'Private_Dirty'),
  };
}
const statsFile = join(dir, 'sim-stats.csv');
function simStats() {
  const lines = readFileSync(statsFile, 'utf8').trim().split('\n').slice(1);
  return lines.map((l) => {
    const [t, online, connects, disconnects, made, sent, acked] = l.split(',').map(Number);
    return { t, online, connects, disconnects, made, sent, acked };
  });
}
const lastStats = () => { const s = simStats(); return s[s.length - 1]; };
async function until(what, fn, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const mb = (kb) => (kb / 1024).toFixed(1);

writeConfig(0);
const tokens = join(dir, 'tokens');
let t = Date.now();
// One device more than the fleet: the echo probe, a simulator process of its own
// (a real device has its own CPU; one inside the fleet's simulator also waits for
// that loop, measured too for comparison).
execFileSync(hubBin, ['--config', configFile, '--add-devices', String(N + 1), '--tokens-out', tokens], { stdio: 'pipe' });
const tokenLines = readFileSync(tokens, 'utf8').trim().split('\n');
const probeTokens = join(dir, 'tokens-probe');
writeFileSync(probeTokens, tokenLines[N] + '\n');
const probeId = tokenLines[N].split(/\s+/)[0];
const fleetId = tokenLines[0].split(/\s+/)[0];
const registerS = (Date.now() - t) / 1000;
let hub = await startHub();
writeConfig(hub.port); // the restart must come back on the same port
const results = { devices: N, register_s: registerS };
let sim;
let probe;
try {
  await sleep(1000);
  const floorMem = memoryOf(hub.proc.pid);
  const floorCpu0 = cpuOf(hub.proc.pid);
  await sleep(3000);
  const floorCpu = (cpuOf(hub.proc.pid) - floorCpu0) / 3;

  t = Date.now();
  const simT0 = Date.now();
  const simNow = () => (Date.now() - simT0) / 1000;
  sim = spawn(simBin, ['--url', `wss://127.0.0.1:${hub.port}`, '--ca-file', certs.ca, '--tokens', tokens,
    '--devices', String(N), '--rate', String(RATE), '--start-paused', '--stats', statsFile,
    '--stats-interval', '0.5', '--backoff-max', String(BACKOFF_MAX_S), '--quiet',
    // First dials at 500/s: all 10 000 at once stalls the simulator's own loop
    // (lws 4.1 walks its pending client connections), see docs/performance.md.
    '--ramp', String(N / 500)], { stdio: ['ignore', 'inherit', 'inherit'] });
  // The fleet's simulator stands in for N machines with CPUs of their own; on a
  // small box it would take from the hub CPU the hub has in a deployment. It runs
  // FLEET_SIM_NICE (default 10) nice levels below the bench and the hub, so it gets
  // what the hub leaves; its own figures (CPU per record) are unchanged. The probe
  // device, the one an operator talks to, keeps the hub's priority.
  setPriority(sim.pid, simNice);
  await until('the stats file', () => { try { return simStats().length > 0; } catch { return false; } }, 10000);
  await until(`${N} devices online`, () => lastStats().online === N, 600000);
  results.connect_all_s = (Date.now() - t) / 1000;

  await sleep(5000); // settle: status writes committed, TLS buffers released
  const mem = memoryOf(hub.proc.pid);
  results.memory_kb = { floor: floorMem, fleet: mem };
  results.per_device_kb = {
    vmrss: (mem.vmrss - floorMem.vmrss) / N, pss: (mem.pss - floorMem.pss) / N, uss: (mem.uss - floorMem.uss) / N,
  };
  const c0 = cpuOf(hub.proc.pid);
  const s0 = cpuOf(sim.pid);
  await sleep(IDLE_S * 1000);
  results.idle_cpu_pct = ((cpuOf(hub.proc.pid) - c0) / IDLE_S) * 100;
  results.idle_sim_cpu_pct = ((cpuOf(sim.pid) - s0) / IDLE_S) * 100;
  results.floor_cpu_pct = floorCpu * 100;
  results.idle_online = lastStats().online;

  // Restart storm, with the fleet idle and every record acked (after the ingest
  // phase the storm would also carry its unacked backlog, a different test).
  // FLEET_SKIP_STORM=1 leaves it out (A/B runs of the ingest phase).
  let rows = [];
  if (!process.env.FLEET_SKIP_STORM) {
    const exited = new Promise((r) => hub.proc.once('exit', r));
    hub.proc.kill('SIGKILL');
    await exited;
    const k0 = simNow();
    hub = await startHub();
    const restartedAt = simNow();
    await until(`${N} devices back`, () => { const s = lastStats(); return s.online === N && s.t > restartedAt; }, 1200000);
    const series = simStats().filter((s) => s.t >= k0 - 1);
    const back = series.find((s) => s.t > restartedAt && s.online === N);
    results.restart = { hub_down_s: restartedAt - k0, all_back_after_kill_s: back.t - k0, backoff_max_s: BACKOFF_MAX_S };
    // Reconnects per second, from the kill on.
    for (let i = 1; i < series.length; i++) {
      rows.push({ t: series[i].t - k0, online: series[i].online, rate: (series[i].connects - series[i - 1].connects) / (series[i].t - series[i - 1].t) });
    }
    results.restart.peak_reconnects_per_s = Math.max(...rows.map((r) => r.rate));
    if (SVG_OUT) writeFileSync(SVG_OUT, plot(rows, N));
    await sleep(3000);
  }

  // The probe device: no records, only the operator's shell.
  const probeStats = join(dir, 'probe-stats.csv');
  probe = spawn(simBin, ['--url', `wss://127.0.0.1:${hub.port}`, '--ca-file', certs.ca, '--tokens', probeTokens,
    '--devices', '1', '--stats', probeStats, '--stats-interval', '0.2', '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
  await until('the probe device online', () => {
    try { const l = readFileSync(probeStats, 'utf8').trim().split('\n'); return l.length > 1 && l[l.length - 1].split(',')[1] === '1'; } catch { return false; }
  }, 30000);

  // Ingest: every device makes RATE records/s.
  sim.kill('SIGUSR1');
  await sleep(3000);
  // For a profiler attached from outside (perf record -p): the pids, on stderr.
  console.error(`ingest phase: hub pid ${hub.proc.pid}, sim pid ${sim.pid}`);
  const a0 = lastStats();
  const ic0 = cpuOf(hub.proc.pid);
  const is0 = cpuOf(sim.pid);
  // Shell echo while the fleet sends: to the probe device, and to a device of the
  // fleet's simulator, at the same time (two operator links).
  const hubRef = { port: hub.port, ca: readFileSync(certs.ca), password };
  const cookie = await login(hubRef);
  const echoUntil = Date.now() + INGEST_S * 1000;
  async function echoes(deviceId) {
    const op = await connectOperator(hubRef, cookie, deviceId);
    op.send({ hdr: { proto: PROTO.SHELL, typ: 'new', sid: 'bench', props: { terminal_width: 80, terminal_height: 24 } } });
    const n0 = Date.now();
    await op.next({ proto: PROTO.SHELL, typ: 'new', sid: 'bench' }, 60000);
    const newMs = Date.now() - n0;
    const rtts = [];
    let lost = 0;
    while (Date.now() < echoUntil) {
      const key = `k${rtts.length + lost}\n`;
      const e0 = process.hrtime.bigint();
      op.send({ hdr: { proto: PROTO.SHELL, typ: 'shell', sid: 'bench' }, body: key });
      try {
        for (;;) {
          const echo = await op.next({ proto: PROTO.SHELL, typ: 'shell', sid: 'bench' }, 5000);
          if (text(echo.body) === key) break; // a late echo of an earlier key is skipped
        }
        rtts.push(Number(process.hrtime.bigint() - e0) / 1e6);
      } catch {
        lost += 1; // no echo within 5 s
      }
      await sleep(20);
    }
    await op.close();
    rtts.sort((x, y) => x - y);
    const n = rtts.length;
    if (rtts.length === 0) rtts.push(NaN);
    return { n, lost, p50: pct(rtts, 50), p99: pct(rtts, 99), max: rtts[rtts.length - 1], new_ms: newMs };
  }
  const [probeEcho, fleetEcho] = await Promise.all([echoes(probeId), echoes(fleetId)]);
  const a1 = lastStats();
  const secs = a1.t - a0.t;
  results.ingest = {
    offered_per_s: N * RATE, acked_per_s: (a1.acked - a0.acked) / secs, made_per_s: (a1.made - a0.made) / secs,
    hub_cpu_pct: ((cpuOf(hub.proc.pid) - ic0) / secs) * 100, sim_cpu_pct: ((cpuOf(sim.pid) - is0) / secs) * 100,
    online: a1.online, sim_nice: simNice, bench_nice: getPriority(),
  };
  // CPU per acked record: what a change to either program's per-record work moves,
  // whether or not the run saturated the machine.
  const ackedN = Math.max(1, a1.acked - a0.acked);
  results.ingest.hub_us_per_record = ((cpuOf(hub.proc.pid) - ic0) * 1e6) / ackedN;
  results.ingest.sim_us_per_record = ((cpuOf(sim.pid) - is0) * 1e6) / ackedN;
  results.shell_echo_ms = probeEcho;
  results.shell_echo_in_fleet_sim_ms = fleetEcho;
  sim.kill('SIGUSR1');
  // Let the backlog drain (bounded: an overloaded hub may need minutes).
  const d0 = Date.now();
  try {
    await until('every record acked', () => { const s = lastStats(); return s.acked === s.made; }, 60000);
  } catch {
    results.backlog_after_drain = lastStats().made - lastStats().acked;
  }
  results.drain_s = (Date.now() - d0) / 1000;

  console.log(JSON.stringify(results, null, 2));
  console.log(`\nfleet size, ${N} devices (floor = the same hub with no device; simulator at nice ${simNice}, hub and probe at ${getPriority()})`);
  console.log(`  register in bulk            ${registerS.toFixed(2)} s`);
  console.log(`  all online after start      ${results.connect_all_s.toFixed(1)} s`);
  console.log(`  hub VmRSS / Pss / USS       ${mb(mem.vmrss)} / ${mb(mem.pss)} / ${mb(mem.uss)} MB (floor ${mb(floorMem.vmrss)} / ${mb(floorMem.pss)} / ${mb(floorMem.uss)})`);
  console.log(`  per device (above floor)    ${results.per_device_kb.vmrss.toFixed(1)} / ${results.per_device_kb.pss.toFixed(1)} / ${results.per_device_kb.uss.toFixed(1)} KB   (target <= 100 KB)`);
  console.log(`  idle hub CPU                ${results.idle_cpu_pct.toFixed(2)} % of a core over ${IDLE_S} s (floor ${results.floor_cpu_pct.toFixed(2)} %; target < 5 %)`);
  console.log(`  ingest acked after commit   ${results.ingest.acked_per_s.toFixed(0)} records/s of ${results.ingest.offered_per_s} offered (hub ${results.ingest.hub_cpu_pct.toFixed(0)} %, sim ${results.ingest.sim_cpu_pct.toFixed(0)} % of a core; target >= 50000)`);
  console.log(`  CPU per acked record        hub ${results.ingest.hub_us_per_record.toFixed(1)} us, sim ${results.ingest.sim_us_per_record.toFixed(1)} us`);
  const echoLine = (e) => `p50 ${e.p50.toFixed(1)} ms, p99 ${e.p99.toFixed(1)} ms, max ${e.max.toFixed(1)} ms (${e.n} echoes, ${e.lost} without an echo within 5 s; shell new answered in ${e.new_ms} ms)`;
  console.log(`  shell echo while ingesting  ${echoLine(results.shell_echo_ms)}; target p99 < 50 ms`);
  console.log(`    same, device in the fleet's simulator  ${echoLine(results.shell_echo_in_fleet_sim_ms)}`);
  if (results.restart) console.log(`  restart storm               all ${N} back ${results.restart.all_back_after_kill_s.toFixed(1)} s after the kill (hub down ${results.restart.hub_down_s.toFixed(1)} s; target < ${2 * BACKOFF_MAX_S} s = 2 x backoff-max), peak ${results.restart.peak_reconnects_per_s.toFixed(0)} reconnects/s`);
  if (rows.length) console.log('\n  t after kill (s) | online | reconnects/s');
  for (const r of rows) {
    console.log(`  ${r.t.toFixed(1).padStart(16)} | ${String(r.online).padStart(6)} | ${r.rate.toFixed(0).padStart(6)}`);
    if (r.online === N && r.t > results.restart.all_back_after_kill_s + 2) break;
  }
} finally {
  if (sim && sim.exitCode === null) sim.kill('SIGTERM');
  if (probe && probe.exitCode === null) probe.kill('SIGTERM');
  if (hub.proc.exitCode === null) hub.proc.kill('SIGTERM');
  await sleep(1000);
  rmSync(dir, { recursive: true, force: true });
}

// Online devices and reconnects/s after the kill, as a small self-contained SVG.
function plot(rows, n) {
  const W = 640, H = 260, L = 50, R = 50, T = 20, B = 40;
  const tmax = Math.max(...rows.map((r) => r.t), 1);
  const rmax = Math.max(...rows.map((r) => r.rate), 1);
  const x = (tt) => L + ((W - L - R) * tt) / tmax;
  const yOnline = (v) => H - B - ((H - T - B) * v) / n;
  const yRate = (v) => H - B - ((H - T - B) * v) / rmax;
  const path = (f) => rows.map((r, i) => `${i ? 'L' : 'M'}${x(r.t).toFixed(1)},${f(r).toFixed(1)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>
<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>
<line x1="${W - R}" y1="${T}" x2="${W - R}" y2="${H - B}" stroke="black"/>
<path d="${path((r) => yOnline(r.online))}" fill="none" stroke="#1f77b4" stroke-width="2"/>
<path d="${path((r) => yRate(r.rate))}" fill="none" stroke="#d62728" stroke-width="1.5"/>
<text x="${L - 5}" y="${T + 4}" text-anchor="end">${n}</text><text x="${L - 5}" y="${H - B}" text-anchor="end">0</text>
<text x="${W - R + 5}" y="${T + 4}">${rmax.toFixed(0)}/s</text><text x="${W - R + 5}" y="${H - B}">0</text>
<text x="${L}" y="${H - B + 15}">0 s</text><text x="${W - R}" y="${H - B + 15}" text-anchor="end">${tmax.toFixed(0)} s after SIGKILL</text>
<text x="${L + 10}" y="${T + 12}" fill="#1f77b4">devices online</text>
<text x="${L + 10}" y="${T + 26}" fill="#d62728">reconnects per second</text>
</svg>
`;
}
