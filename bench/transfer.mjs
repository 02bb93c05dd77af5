// transfer: file transfer and port forward through tether-hub + tetherd, next to
// OpenSSH on loopback and to floors, all measured in one run:
//
//   cp upload / download    `tether-hub cp` (CLI -> hub -> tetherd, TLS, proto 2)
//                           vs `scp` to a private sshd (same file, same disk)
//   forward                 `curl` of the file from an HTTP server through
//                           `tether-hub forward` (proto 3) vs through `ssh -N -L`
//   floors                  `cat FILE > /dev/null` (reading the file) and `curl`
//                           straight from the HTTP server (raw TCP on loopback)
//
// Every row is wall-clock time of the whole command (process start, TLS/SSH
// handshake, transfer, exit), as an operator sees it; the median of RUNS rounds
// is printed as MB/s with tether/ssh and tether/floor ratios.
//
//   TETHER_HUB_BIN=build/test/hub/tether-hub TETHERD_BIN=build/test/daemon/tetherd \
//   TETHERCTL_BIN=build/test/dbus/tetherctl/tetherctl node bench/transfer.mjs [size-mb=50] [runs=3]
//
// Needs to run as a user the private sshd accepts by key (root or the current user).
// See docs/performance.md "File transfer and port forward".
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync, statSync, chmodSync } from 'node:fs';
import { createServer } from 'node:http';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { startHub, login, request, hubBin, freePort } from '../tests/hub/helpers.mjs';
import { startGateway, Child } from '../tests/hub/gateway.mjs';

const SIZE_MB = Number(process.argv[2] || 50);
const RUNS = Number(process.argv[3] || 3);
const DEVICE = 'bench-gw';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function run(cmd, args, env = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`));
      else resolve(seconds);
    });
  });
}


async function waitForPort(port, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await sleep(50);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const hub = await startHub({ devices: [DEVICE] });
const children = [];
let web;
try {
  const dir = hub.dir;
  const root = join(dir, 'device-root');
  const local = join(dir, 'local');
  const sshDir = join(dir, 'ssh');
  mkdirSync(root);
  mkdirSync(local);
  mkdirSync(sshDir);
  const file = join(local, 'payload');
  writeFileSync(file, randomBytes(SIZE_MB * 1024 * 1024));
  const bytes = statSync(file).size;

  // The HTTP server the forwards reach ("next to the device").
  web = createServer((req, res) => {
    res.writeHead(200, { 'Content-Length': bytes });
    createReadStream(file).pipe(res);
  });
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  const webPort = web.address().port;

  const gateway = await startGateway(hub, DEVICE, {
    args: [`--filetransfer.root=${root}`, '--portforward.allow=127.0.0.1:*'],
  });
  children.push({ stop: () => gateway.stop() });
  const cookie = await login(hub);
  const made = await request(hub, 'POST', '/api/tokens', { cookie, body: { label: 'bench', role: 'operator' } });
  const cliEnv = { TETHER_HUB_URL: hub.url, TETHER_HUB_TOKEN: made.json.token, TETHER_HUB_CA_FILE: hub.caFile };

  // A private sshd with throwaway keys (as bench/shell_throughput.cpp does).
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, 'user_key')]);
  execFileSync('cp', [join(sshDir, 'user_key.pub'), join(sshDir, 'authorized_keys')]);
  chmodSync(join(sshDir, 'authorized_keys'), 0o644);
  chmodSync(sshDir, 0o755);
  chmodSync(dir, 0o755);
  mkdirSync('/run/sshd', { recursive: true });
  const sshPort = await freePort();
  const user = userInfo().username;
  writeFileSync(join(sshDir, 'sshd_config'), [
    `Port ${sshPort}`, 'ListenAddress 127.0.0.1', `HostKey ${join(sshDir, 'host_key')}`,
    `PidFile ${join(sshDir, 'sshd.pid')}`, `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password', 'UsePAM no', 'StrictModes no', 'PrintMotd no',
    `AllowUsers ${user}`, 'Subsystem sftp internal-sftp', '',
  ].join('\n'));
  const sshd = new Child('/usr/sbin/sshd', ['-D', '-e', '-f', join(sshDir, 'sshd_config')]);
  children.push(sshd);
  const sshOpts = ['-i', join(sshDir, 'user_key'), '-o', 'StrictHostKeyChecking=no', '-o',
    'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes'];
  for (let i = 0; ; i++) {
    try {
      await run('ssh', ['-p', String(sshPort), ...sshOpts, `${user}@127.0.0.1`, 'true']);
      break;
    } catch (e) {
      if (i > 50) throw e;
      await sleep(100);
    }
  }

  // The two forwards, up for the whole run.
  const forward = new Child(hubBin,
    ['forward', DEVICE, `0:127.0.0.1:${webPort}`], cliEnv);
  children.push(forward);
  const [, tetherPort] = await forward.waitFor(/forwarding 127\.0\.0\.1:(\d+) to /);
  const sshLocal = await freePort();
  const tunnel = new Child('ssh', ['-N', '-p', String(sshPort), ...sshOpts, '-L',
    `${sshLocal}:127.0.0.1:${webPort}`, `${user}@127.0.0.1`]);
  children.push(tunnel);
  await waitForPort(sshLocal);

  const rows = {
    'floor: cat file > /dev/null': () => run('sh', ['-c', `cat '${file}' > /dev/null`]),
    'floor: curl direct (TCP loopback)': () => run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${webPort}/`]),
    'tether-hub cp upload': () => run(hubBin, ['cp', file, `${DEVICE}:${root}/up`], cliEnv),
    'scp upload': () => run('scp', ['-q', '-P', String(sshPort), ...sshOpts, file, `${user}@127.0.0.1:${join(root, 'scp-up')}`]),
    'tether-hub cp download': () => run(hubBin, ['cp', `${DEVICE}:${join(root, 'up')}`, join(local, 'down')], cliEnv),
    'scp download': () => run('scp', ['-q', '-P', String(sshPort), ...sshOpts, `${user}@127.0.0.1:${join(root, 'up')}`, join(local, 'scp-down')]),
    'tether-hub forward (curl)': () => run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${tetherPort}/`]),
    'ssh -L (curl)': () => run('curl', ['-sS', '-o', '/dev/null', `http://127.0.0.1:${sshLocal}/`]),
  };
  const times = Object.fromEntries(Object.keys(rows).map((k) => [k, []]));
  for (let r = 0; r < RUNS; r++) {
    for (const [name, fn] of Object.entries(rows)) times[name].push(await fn());
  }
  const mbps = (name) => bytes / 1e6 / median(times[name]);
  console.log(`transfer: ${SIZE_MB} MiB file, median of ${RUNS} runs, wall clock per command`);
  console.log(`${'row'.padEnd(36)} ${'median s'.padStart(9)} ${'MB/s'.padStart(9)}`);
  for (const name of Object.keys(rows)) {
    console.log(`${name.padEnd(36)} ${median(times[name]).toFixed(3).padStart(9)} ${mbps(name).toFixed(1).padStart(9)}`);
  }
  const ratio = (label, a, b) => console.log(`${label.padEnd(44)} ${(mbps(a) / mbps(b)).toFixed(2)}`);
  console.log('ratios (throughput, higher is better for tether)');
  ratio('cp upload: tether / scp', 'tether-hub cp upload', 'scp upload');
  ratio('cp download: tether / scp', 'tether-hub cp download', 'scp download');
  ratio('forward: tether / ssh -L', 'tether-hub forward (curl)', 'ssh -L (curl)');
  ratio('forward: tether / direct TCP floor', 'tether-hub forward (curl)', 'floor: curl direct (TCP loopback)');
  ratio('cp download: tether / cat floor', 'tether-hub cp download', 'floor: cat file > /dev/null');
} finally {
  for (const c of children.reverse()) await c.stop();
  if (web) web.close();
  await hub.stop();
}
