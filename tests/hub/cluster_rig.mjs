// Several tether-hub instances behind HAProxy on one machine, for the cluster
// tests and bench/cluster.mjs: nats-server (Debian's, max_payload 2MB), N hubs on
// private loopback ports sharing one config and one store, and HAProxy in front
// as a TCP load balancer (TLS passes through to the hubs) on one port for devices
// and operators alike. Everything runs from a temp dir and is stopped by stop().
//
// The store is a parameter: by default the instances share one state dir
// (SQLite, WAL). TETHER_CLUSTER_STORE=postgresql (or the postgres option) starts
// a private PostgreSQL (postgres.mjs; cluster.postgres.restart() and friends for
// outage tests) and puts `[store] url = postgresql://...` in the shared config;
// TETHER_STORE_URL=postgresql://... (or the storeUrl option) names a server of
// your own (the database must exist and be empty). Either needs a hub built with
// the PostgreSQL store (issue #19).
//
// HAProxy balances on the client's address (`balance source`, consistent
// hashing): all of one client's connections land on one instance while it is up
// (login sessions are in the shared store, so any instance knows the cookie).
// On one machine every client is 127.0.0.1, so simulated devices dial from a
// range of loopback addresses (tether-sim --source-addresses) and operators pick
// one with `from` (Linux routes all of 127/8 to lo).
import { execFileSync, spawn } from 'node:child_process';
import { connect as tcpConnect } from 'node:net';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  hubBin, repo, tempDir, makeCerts, hashPassword, login, request, operatorPath, Peer, WebSocket,
  PROTO, text, freePort,
} from './helpers.mjs';
import { Child } from './gateway.mjs';
import { startPostgres } from './postgres.mjs';

export const natsBin = process.env.NATS_SERVER_BIN || '/usr/sbin/nats-server';
export const haproxyBin = process.env.HAPROXY_BIN || '/usr/sbin/haproxy';
export const simBin = process.env.TETHER_SIM_BIN || join(repo, 'build/hub/tether-sim');

// Resolves once something accepts TCP connections on 127.0.0.1:port.
async function waitListening(port, what, child, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    if (child.exitCode !== undefined) throw new Error(`${what} exited (${child.exitCode}):\n${child.output}`);
    const ok = await new Promise((resolve) => {
      const s = tcpConnect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`${what} does not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// HAProxy's configuration for one machine: the same shape as
// examples/cluster/haproxy.cfg, with loopback ports.
// HAProxy's maxconn: two descriptors a connection, within the hard limit on open
// files (HAProxy refuses to start when it cannot raise its own limit that far).
export function haproxyMaxconn() {
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim();
  return hard === 'unlimited' ? 100000 : Math.max(100, Math.min(100000, Math.floor((Number(hard) - 100) / 2)));
}

export function haproxyConfig(port, backends) {
  return [
    'global',
    `  maxconn ${haproxyMaxconn()}`,
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    // Device links are quiet between pings (the daemon's ping-interval); the
    // hub, not the balancer, decides when a link is dead.
    '  timeout client 1h',
    '  timeout server 1h',
    '  option redispatch',
    '  retries 2',
    'frontend tether',
    `  bind 127.0.0.1:${port}`,
    '  default_backend hubs',
    'backend hubs',
    '  balance source',
    '  hash-type consistent sdbm avalanche',
    '  default-server check inter 500ms fall 2 rise 2',
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`),
    '',
  ].join('\n');
}

export async function startHaproxy(dir, port, backends) {
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, backends));
  execFileSync(haproxyBin, ['-c', '-q', '-f', cfg], { stdio: 'pipe' });
  const child = new Child(haproxyBin, ['-db', '-f', cfg]);
  await waitListening(port, 'haproxy', child);
  return child;
}

export async function startNats(dir, port) {
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${port}\nmax_payload: 2MB\n`);
  const child = new Child(natsBin, ['-c', conf]);
  await child.waitFor(/Server is ready/);
  return child;
}

// Devices whose link is on `hub` now, from its log ("device X connected" /
// "disconnected" in order).
export function devicesOn(hub) {
  const here = new Set();
  for (const m of hub.child.output.matchAll(/device (\S+) (connected|disconnected)$/gm)) {
    if (m[2] === 'connected') here.add(m[1]); else here.delete(m[1]);
  }
  return here;
}

// Starts the cluster. options: instances (3), haproxy (true), devices (0: how
// many to register as sim-NNN, tokens in cluster.tokensFile), logLevel, storeUrl,
// bus (false: no nats-server and no [bus], for one plain instance as a baseline),
// extra (config lines appended to the shared config, e.g. an [update] section).
export async function startCluster({
  instances = 3, haproxy = true, devices = 0, logLevel = 'info',
  storeUrl = process.env.TETHER_STORE_URL || '', pingInterval = 5, bus = true,
  postgres = process.env.TETHER_CLUSTER_STORE === 'postgresql',
  maxConnections = 16384, extra = '',
} = {}) {
  if (!bus && instances !== 1) throw new Error('several instances need the bus');
  const dir = tempDir('tether-cluster-');
  const password = 'pw-' + Math.random().toString(36).slice(2);
  const cluster = {
    dir, password, hubs: [], nats: null, haproxy: null, natsPort: await freePort(),
    caFile: join(dir, 'ca.pem'), tokensFile: join(dir, 'tokens'), storeUrl,
  };
  cluster.stop = async () => {
    if (cluster.haproxy) await cluster.haproxy.stop();
    await Promise.all(cluster.hubs.map((h) => h.child.stop()));
    if (cluster.nats) await cluster.nats.stop();
    if (cluster.postgres) await cluster.postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (bus) cluster.nats = await startNats(dir, cluster.natsPort);
    if (postgres && !storeUrl) {
      cluster.postgres = await startPostgres();
      cluster.storeUrl = storeUrl = await cluster.postgres.createDatabase();
    }
    const certs = makeCerts(dir);
    cluster.ca = readFileSync(certs.ca);
    cluster.configFile = join(dir, 'hub.conf');
    writeFileSync(cluster.configFile, [
      '[listen]', 'address = 127.0.0.1', 'port = 0',
      '[tls]', `cert-file = ${certs.cert}`, `key-file = ${certs.key}`,
      '[hub]', `state-dir = ${join(dir, 'state')}`, `ping-interval = ${pingInterval}`,
      '[operator]', 'username = admin', `password-hash = ${hashPassword(password)}`,
      '[limits]', `max-connections = ${maxConnections}`,
      ...(bus ? ['[bus]', `url = nats://127.0.0.1:${cluster.natsPort}`] : []),
      ...(storeUrl ? ['[store]', `url = ${storeUrl}`] : []),
      ...(extra ? [extra.trimEnd()] : []),
      '',
    ].join('\n'));
    if (devices > 0) {
      execFileSync(hubBin, ['--config', cluster.configFile, '--add-devices', String(devices),
        '--device-prefix', 'sim-', '--tokens-out', cluster.tokensFile], { stdio: 'pipe' });
      cluster.deviceIds = readFileSync(cluster.tokensFile, 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    }
    const names = 'ABCDEFGHIJ';
    for (let i = 0; i < instances; i++) {
      cluster.hubs.push(await startInstance(cluster, names[i], await freePort(), logLevel));
    }
    if (bus) await Promise.all(cluster.hubs.map((h) => h.child.waitFor(/bus: connected/)));
    if (haproxy) {
      cluster.port = await freePort();
      cluster.haproxy = await startHaproxy(dir, cluster.port, cluster.hubs);
    } else {
      cluster.port = cluster.hubs[0].port;
    }
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  // What helpers.request / login take: the balancer's port.
  cluster.front = { port: cluster.port, ca: cluster.ca, password };
  return cluster;
}

async function startInstance(cluster, name, port, logLevel) {
  const child = new Child(hubBin, ['--config', cluster.configFile, '--listen.port', String(port),
    '--log.level', logLevel]);
  await child.waitFor(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
  return {
    name, child, port, ca: cluster.ca, password: cluster.password, log: () => child.output,
  };
}

// The instance whose log gained a line matching `pattern` while `fn` ran.
export async function instanceThat(cluster, pattern, fn) {
  const count = (h) => (h.child.output.match(new RegExp(pattern, 'gm')) || []).length;
  const before = cluster.hubs.map(count);
  const result = await fn();
  const end = Date.now() + 5000;
  for (;;) {
    const hit = cluster.hubs.filter((h, i) => count(h) > before[i]);
    if (hit.length === 1) return { hub: hit[0], result };
    if (hit.length > 1 || Date.now() > end) {
      throw new Error(`${hit.length} instances logged /${pattern}/`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

// An operator coming from local address `from` through the balancer: which
// instance it landed on (where it logged in), its cookie, and
// attach(device) for a WebSocket to a device.
export async function operatorFrom(cluster, from) {
  const { hub, result: cookie } = await instanceThat(cluster, '^.*operator admin logged in$',
    () => login(cluster.front, 'admin', cluster.password, from));
  return {
    hub,
    cookie,
    from,
    request: (method, path, opts = {}) => request(cluster.front, method, path, { ...opts, cookie, from }),
    attach: (device) => attach(cluster, cookie, device, from),
  };
}

// Like helpers.connectOperator, from `from` and through the balancer.
export function attach(cluster, cookie, device, from) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`wss://localhost:${cluster.port}${operatorPath(device)}`, {
      ca: cluster.ca, localAddress: from,
      headers: { Cookie: cookie, Origin: `https://localhost:${cluster.port}` },
    });
    const peer = new Peer(ws);
    ws.once('open', () => resolve(peer));
    ws.once('unexpected-response', (_req, res) => {
      const err = new Error(`upgrade refused: ${res.statusCode}`);
      err.status = res.statusCode;
      reject(err);
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

// tether-sim against the balancer, its devices spread over `sources` loopback
// addresses. Returns {proc, exited, output(), summary()}.
export function runSim(cluster, args, { sources = '127.0.1.1-127.0.1.64' } = {}) {
  const summaryFile = join(cluster.dir, `summary-${Math.random().toString(36).slice(2)}.json`);
  const proc = spawn(simBin, ['--url', `wss://localhost:${cluster.port}`, '--ca-file', cluster.caFile,
    '--tokens', cluster.tokensFile, '--quiet', '--summary', summaryFile,
    ...(sources ? ['--source-addresses', sources] : []), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stderr.on('data', (d) => { output += d; });
  proc.stdout.on('data', (d) => { output += d; });
  const exited = new Promise((r) => proc.on('exit', (code, signal) => r(code ?? signal)));
  return {
    proc, exited, output: () => output,
    summary: () => JSON.parse(readFileSync(summaryFile, 'utf8')),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

export async function until(what, fn, timeoutMs = 30000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Opens a shell on `sid` and resolves once the device said yes.
export async function openShell(op, sid) {
  op.send({ hdr: { proto: PROTO.SHELL, typ: 'new', sid, props: { terminal_width: 80, terminal_height: 24 } } });
  const answer = await op.next({ proto: PROTO.SHELL, typ: 'new', sid });
  if (answer.hdr.props.status !== 1) throw new Error(`shell refused: ${text(answer.body ?? [])}`);
}

// Sends `line` and resolves with the round trip in ms once it is echoed back
// whole (tether-sim's fake shell echoes what it gets).
export async function echo(op, sid, line) {
  const started = process.hrtime.bigint();
  op.send({ hdr: { proto: PROTO.SHELL, typ: 'shell', sid }, body: line });
  let seen = '';
  while (!seen.includes(line)) seen += text((await op.next({ proto: PROTO.SHELL, typ: 'shell', sid })).body);
  return Number(process.hrtime.bigint() - started) / 1e6;
}
