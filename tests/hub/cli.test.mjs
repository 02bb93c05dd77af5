// The operator CLI end to end: `tether-hub cp` and `tether-hub forward` against a
// real tether-hub and a real tetherd (private dbus-daemon) with [filetransfer]
// root and [portforward] allow set, authenticated with an API token made through
// the hub's API.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync, symlinkSync, rmSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startHub, login, request, tempDir, hubBin, makeCerts } from './helpers.mjs';
import { startGateway, tetherdBin, Child } from './gateway.mjs';

const DEVICE = 'gw-cli';
const OFFLINE = 'gw-offline';
const BARE = 'gw-bare';  // file transfer and port forward disabled
let hub;
let gateway;
let bare;
let closer;  // a device-side TCP server that says goodbye and closes
let closerPort;
let token;
let cookie;
let root;   // the device's filetransfer.root
let local;  // this side's files
let web;    // the HTTP server on the "device" side
let webPort;

// Runs `tether-hub ARGS`; resolves with {code, stdout, stderr}.
function cli(args, { env = {}, withHub = true, wrap } = {}) {
  const base = withHub
    ? { TETHER_HUB_URL: hub.url, TETHER_HUB_TOKEN: token, TETHER_HUB_CA_FILE: hub.caFile }
    : {};
  return new Promise((resolve) => {
    const clean = { ...process.env };
    for (const k of ['TETHER_HUB_URL', 'TETHER_HUB_TOKEN', 'TETHER_HUB_CA_FILE']) delete clean[k];
    const [bin, ...argv] = wrap || [hubBin, ...args];
    const proc = spawn(bin, argv, { env: { ...clean, ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.on('data', (d) => { stderr += d; });
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// `tether-hub forward` as a child; resolves with it and its local port once ready.
async function startForward(spec) {
  const child = new Child(hubBin, ['forward', DEVICE, spec], {
    TETHER_HUB_URL: hub.url, TETHER_HUB_TOKEN: token, TETHER_HUB_CA_FILE: hub.caFile,
  });
  const [, port] = await child.waitFor(/forwarding 127\.0\.0\.1:(\d+) to /);
  return { child, port: Number(port) };
}

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '20', ...args], { encoding: 'buffer', maxBuffer: 64 << 20 },
      (error, stdout, stderr) => resolve({ error, stdout, stderr: stderr.toString() }));
  });
}

before(async () => {
  assert.ok(existsSync(tetherdBin), `tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  hub = await startHub({ devices: [DEVICE, OFFLINE, BARE] });
  root = join(hub.dir, 'device-root');
  local = join(hub.dir, 'local');
  mkdirSync(root);
  mkdirSync(local);
  mkdirSync(join(root, 'sub'));
  writeFileSync(join(hub.dir, 'secret'), 'outside the root\n');
  symlinkSync(join(hub.dir, 'secret'), join(root, 'escape'));
  cookie = await login(hub);
  const made = await request(hub, 'POST', '/api/tokens', { cookie, body: { label: 'cli', role: 'operator' } });
  assert.equal(made.status, 201, made.text);
  token = made.json.token;

  // The "device side" web server: GET /size/N answers N bytes, POST echoes.
  web = createServer((req, res) => {
    if (req.method === 'POST') {
      const parts = [];
      req.on('data', (d) => parts.push(d));
      req.on('end', () => res.end(Buffer.concat(parts)));
      return;
    }
    const m = req.url.match(/^\/size\/(\d+)$/);
    const n = m ? Number(m[1]) : 5;
    const body = Buffer.alloc(n);
    for (let i = 0; i < n; i++) body[i] = (i * 7 + n) & 0xff;
    res.end(m ? body : 'hello');
  });
  await new Promise((r) => web.listen(0, '127.0.0.1', r));
  webPort = web.address().port;

  closer = createTcpServer((socket) => socket.end('bye\n'));
  await new Promise((r) => closer.listen(0, '127.0.0.1', r));
  closerPort = closer.address().port;

  gateway = await startGateway(hub, DEVICE, {
    args: [`--filetransfer.root=${root}`,
      `--portforward.allow=127.0.0.1:${webPort},127.0.0.1:${closerPort}`],
  });
  bare = await startGateway(hub, BARE, {
    args: ['--filetransfer.enabled=false', '--portforward.enabled=false'],
  });
});

after(async () => {
  if (gateway) await gateway.stop();
  if (bare) await bare.stop();
  if (web) web.close();
  if (closer) closer.close();
  if (hub) await hub.stop();
});

const SIZES = [0, 1, 4096, 4097, 20 * 1024 * 1024];

test('cp uploads and downloads byte-identical files of 0 B to 20 MB', async () => {
  for (const size of SIZES) {
    const data = randomBytes(size);
    const src = join(local, `up-${size}`);
    writeFileSync(src, data);
    const up = await cli(['cp', src, `${DEVICE}:${root}/file-${size}`]);
    assert.equal(up.code, 0, `upload ${size}: ${up.stderr}`);
    assert.ok(readFileSync(join(root, `file-${size}`)).equals(data), `uploaded ${size} B differ`);

    const dst = join(local, `down-${size}`);
    const down = await cli(['cp', `${DEVICE}:${root}/file-${size}`, dst]);
    assert.equal(down.code, 0, `download ${size}: ${down.stderr}`);
    assert.ok(readFileSync(dst).equals(data), `downloaded ${size} B differ`);
  }
  // No temporary files left on either side.
  assert.deepEqual(readdirSync(local).filter((n) => n.startsWith('.')), []);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.') || n.includes('.0')), []);
});

// The CLI's peak RSS (KiB) for `args`, through python3's getrusage of its child.
async function peakRss(args) {
  const script = 'import resource,subprocess,sys\n'
    + 'r=subprocess.run(sys.argv[1:])\n'
    + 'print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)';
  // Under ASan (CI's second pass) freed chunks would sit in the quarantine and
  // count as growth: reuse them at once instead, as a plain build does.
  const asan = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0'].filter(Boolean).join(':');
  const r = await cli([], { wrap: ['python3', '-c', script, hubBin, ...args], env: { ASAN_OPTIONS: asan } });
  const [code, kib] = r.stdout.trim().split(' ').map(Number);
  assert.equal(code, 0, r.stderr);
  console.log(`# peak RSS ${kib} KiB: ${args.join(' ')}`);
  return kib;
}

test('cp memory does not grow with the file: 20 MB costs what 0 B costs, within 8 MB', async () => {
  const big = 20 * 1024 * 1024;
  const base = await peakRss(['cp', join(local, 'up-0'), `${DEVICE}:${root}/rss-0`]);
  const up = await peakRss(['cp', join(local, `up-${big}`), `${DEVICE}:${root}/rss-big`]);
  const down = await peakRss(['cp', `${DEVICE}:${root}/rss-big`, join(local, 'rss-big')]);
  assert.ok(up - base < 8192, `upload peak ${up} KiB vs ${base} KiB for an empty file`);
  assert.ok(down - base < 8192, `download peak ${down} KiB vs ${base} KiB for an empty file`);
});

test('cp into a directory keeps the file name on both sides, and the mode', async () => {
  const src = join(local, 'named.txt');
  writeFileSync(src, 'named\n');
  chmodSync(src, 0o640);
  const up = await cli(['cp', src, `${DEVICE}:${root}/sub`]);
  assert.equal(up.code, 0, up.stderr);
  assert.equal(readFileSync(join(root, 'sub', 'named.txt'), 'utf8'), 'named\n');
  assert.equal(statSync(join(root, 'sub', 'named.txt')).mode & 0o777, 0o640);
  const into = join(local, 'into');
  mkdirSync(into);
  const down = await cli(['cp', `${DEVICE}:${root}/sub/named.txt`, into]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(readFileSync(join(into, 'named.txt'), 'utf8'), 'named\n');
  assert.equal(statSync(join(into, 'named.txt')).mode & 0o777, 0o640 & ~process.umask());
});

test('cp refuses paths outside the root with a clear error and exit 1', async () => {
  const src = join(local, 'small');
  writeFileSync(src, 'x');
  const cases = [
    ['cp', src, `${DEVICE}:${hub.dir}/planted`],
    ['cp', src, `${DEVICE}:${root}/../planted`],
    ['cp', `${DEVICE}:${hub.dir}/secret`, join(local, 'stolen')],
    ['cp', `${DEVICE}:${root}/escape`, join(local, 'stolen')],
  ];
  for (const args of cases) {
    const r = await cli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^tether-hub cp: gw-cli:\/.*outside filetransfer\.root/m, args.join(' '));
  }
  assert.ok(!existsSync(join(hub.dir, 'planted')));
  assert.ok(!existsSync(join(local, 'stolen')));
  assert.deepEqual(readdirSync(local).filter((n) => n.startsWith('.')), []);
});

test('cp reports a missing remote file, a remote directory and a missing local file', async () => {
  const missing = await cli(['cp', `${DEVICE}:${root}/nope`, join(local, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /gw-cli:.*\/nope: /);
  assert.ok(!existsSync(join(local, 'nope')));
  const dir = await cli(['cp', `${DEVICE}:${root}/sub`, join(local, 'dir')]);
  assert.equal(dir.code, 1);
  assert.match(dir.stderr, /is a directory/);
  const noLocal = await cli(['cp', join(local, 'absent'), `${DEVICE}:${root}/x`]);
  assert.equal(noLocal.code, 1);
  assert.match(noLocal.stderr, /absent: No such file or directory/);
});

test('forward carries HTTP to a device-side server, several connections at once', async () => {
  const { child, port } = await startForward(`0:127.0.0.1:${webPort}`);
  try {
    const one = await curl([`http://127.0.0.1:${port}/`]);
    assert.equal(one.error, null, one.stderr);
    assert.equal(one.stdout.toString(), 'hello');

    // Both directions with more than one chunk, eight connections in parallel.
    const sizes = [1, 4095, 4096, 4097, 100000, 300000, 1 << 20, 2 << 20];
    const gets = sizes.map((n) => curl([`http://127.0.0.1:${port}/size/${n}`]));
    const payload = randomBytes(700000);
    const file = join(local, 'post-body');
    writeFileSync(file, payload);
    const posts = [1, 2, 3].map(() => curl(['--data-binary', `@${file}`, '-H', 'Content-Type: application/octet-stream',
      `http://127.0.0.1:${port}/echo`]));
    const got = await Promise.all(gets);
    got.forEach((r, i) => {
      assert.equal(r.error, null, r.stderr);
      assert.equal(r.stdout.length, sizes[i]);
      for (let j = 0; j < r.stdout.length; j += 997) assert.equal(r.stdout[j], (j * 7 + sizes[i]) & 0xff);
    });
    for (const r of await Promise.all(posts)) {
      assert.equal(r.error, null, r.stderr);
      assert.ok(r.stdout.equals(payload), 'echoed body differs');
    }
  } finally {
    assert.equal(await child.stop('SIGTERM'), 0, child.output);
  }
});

test('forward closes the local connection when the device side closes, after its last bytes', { timeout: 20000 }, async () => {
  const { child, port } = await startForward(`0:127.0.0.1:${closerPort}`);
  try {
    const got = await new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let text = '';
      socket.on('data', (d) => { text += d; });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.equal(got, 'bye\n');
  } finally {
    assert.equal(await child.stop('SIGTERM'), 0, child.output);
  }
});

test('a device without file transfer or port forward says so, and the CLI exits 1', async () => {
  const src = join(local, 'small');
  writeFileSync(src, 'x');
  const cp = await cli(['cp', src, `${BARE}:/tmp/x`]);
  assert.equal(cp.code, 1);
  assert.match(cp.stderr, /device gw-bare does not offer file transfer \(protocol 2\)/);
  const fwd = await cli(['forward', BARE, '0:127.0.0.1:80']);
  assert.equal(fwd.code, 1);
  assert.match(fwd.stderr, /device gw-bare does not offer port forward \(protocol 3\)/);
});

test('forward to a host outside portforward.allow is refused, and says so', async () => {
  const { child, port } = await startForward('0:127.0.0.1:1');
  try {
    const r = await curl([`http://127.0.0.1:${port}/`]);
    assert.notEqual(r.error, null, 'curl should fail');
    await child.waitFor(/refused a connection to 127\.0\.0\.1:1: .*not allowed by portforward\.allow/);
    // The forward itself keeps running for the next connection.
    assert.equal(child.exitCode, undefined);
  } finally {
    assert.equal(await child.stop('SIGTERM'), 0, child.output);
  }
});

test('the audit trail has the CLI\'s transfers and forwards under the token\'s account', async () => {
  const deadline = Date.now() + 10000;
  for (;;) {
    const res = await request(hub, 'GET', '/api/audit?format=jsonl&limit=1000', { cookie });
    const events = res.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const has = (action, detail) => events.some((e) => e.action === action && e.user === 'admin'
      && e.device === DEVICE && detail.test(e.detail));
    if (has('file.put', /path=.*file-4097/) && has('file.get', /path=.*file-4097/)
        && has('forward.open', new RegExp(`to=127\\.0\\.0\\.1:${webPort}`))) return;
    assert.ok(Date.now() < deadline, `missing CLI events in ${res.text.slice(0, 3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('forward fails at once when the local port is taken', async () => {
  const { child, port } = await startForward(`0:127.0.0.1:${webPort}`);
  try {
    const r = await cli(['forward', DEVICE, `${port}:127.0.0.1:${webPort}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
  } finally {
    await child.stop('SIGTERM');
  }
});

test('the hub refuses a bad token, an unknown device and an offline one', async () => {
  const src = join(local, 'small');
  writeFileSync(src, 'x');
  const bad = await cli(['cp', src, `${DEVICE}:${root}/x`], { env: { TETHER_HUB_TOKEN: 'f'.repeat(64) } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /refused the API token \(HTTP 401\)/);
  const unknown = await cli(['cp', src, `no-such-device:${root}/x`]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no such device \(HTTP 404\)/);
  const offline = await cli(['cp', src, `${OFFLINE}:${root}/x`]);
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /not connected to the hub \(HTTP 409\)/);
});

test('TLS is verified: a hub certificate from another CA is refused', async () => {
  const other = tempDir('tether-cli-ca-');
  try {
    const certs = makeCerts(other);
    const src = join(local, 'small');
    writeFileSync(src, 'x');
    const r = await cli(['cp', '--ca-file', certs.ca, src, `${DEVICE}:${root}/x`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate .* failed verification/);
    assert.ok(!existsSync(join(root, 'x')));
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});

test('bad arguments exit 2 with a message', async () => {
  const tokenFile = join(local, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  const cases = [
    [['cp'], /cp takes two arguments/],
    [['cp', 'a', 'b'], /one argument of the form DEVICE:\/absolute\/path/],
    [['cp', `${DEVICE}:/a`, `${DEVICE}:/b`], /both arguments are remote/],
    [['cp', '--bogus', 'a', `${DEVICE}:/b`], /unknown option '--bogus'/],
    [['cp', 'a', `${DEVICE}:/b`, '--hub'], /option '--hub' needs a value/],
    [['forward', DEVICE], /forward takes two arguments/],
    [['forward', DEVICE, '8080'], /not LOCALPORT:HOST:PORT/],
    [['forward', DEVICE, '8080:host'], /not LOCALPORT:HOST:PORT/],
    [['forward', DEVICE, '70000:127.0.0.1:80'], /local port/],
    [['forward', DEVICE, 'x:127.0.0.1:80'], /local port/],
    [['forward', DEVICE, '8080:127.0.0.1:0'], /remote port/],
    [['forward', DEVICE, '8080::80'], /no host/],
    [['forward', 'bad/device', '8080:127.0.0.1:80'], /not a valid device id/],
    [['forward', DEVICE, '8080:127.0.0.1:80', '--hub', 'http://localhost:1'], /not an https:\/\/ URL/],
    [['forward', DEVICE, '8080:127.0.0.1:80', '--hub', 'https://localhost:1/some/path'], /has a path/],
    [['forward', DEVICE, '8080:127.0.0.1:80', '--token-file', join(local, 'missing')], /cannot read/],
  ];
  for (const [args, pattern] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern, args.join(' '));
  }
  const noHub = await cli(['cp', 'a', `${DEVICE}:/b`], { withHub: false, env: { TETHER_HUB_TOKEN: token } });
  assert.equal(noHub.code, 2);
  assert.match(noHub.stderr, /no hub/);
  const noToken = await cli(['cp', 'a', `${DEVICE}:/b`], { withHub: false, env: { TETHER_HUB_URL: hub.url } });
  assert.equal(noToken.code, 2);
  assert.match(noToken.stderr, /no API token/);
  const badToken = await cli(['cp', 'a', `${DEVICE}:/b`], { env: { TETHER_HUB_TOKEN: 'a b\r\nX-Evil: 1' } });
  assert.equal(badToken.code, 2);
  assert.match(badToken.stderr, /characters an API token does not have/);
  const help = await cli(['forward', '--help'], { withHub: false });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: tether-hub cp/);
  // A token file works in place of the environment variable.
  const viaFile = await cli(['cp', '--token-file', tokenFile, `${DEVICE}:${root}/sub/named.txt`, join(local, 'via-file')],
    { env: { TETHER_HUB_TOKEN: '' } });
  assert.equal(viaFile.code, 0, viaFile.stderr);
});

// Last: it kills and restarts the gateway's tetherd.
test('a download cut off by the device going away leaves no file behind, and exits 1', async () => {
  const big = join(root, 'file-20971520');
  assert.ok(existsSync(big));
  const target = join(local, 'cut');
  const proc = cli(['cp', `${DEVICE}:${big}`, target]);
  // Wait until bytes are arriving (the hidden temporary file exists), then cut.
  const deadline = Date.now() + 10000;
  while (!readdirSync(local).some((n) => n.startsWith('.cut.tether-'))) {
    assert.ok(Date.now() < deadline, 'the download never started');
    await new Promise((r) => setTimeout(r, 5));
  }
  await gateway.kill('SIGKILL');
  const r = await proc;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /tether-hub cp: .*(session ended: device disconnected|closed the connection)/);
  assert.ok(!existsSync(target), 'a partial file at the target');
  assert.deepEqual(readdirSync(local).filter((n) => n.startsWith('.')), []);
  gateway.start();
  await gateway.ready();
});
