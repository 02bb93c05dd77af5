// Shared pieces of the hub tests: throwaway certificates, a hub on a spare
// loopback port, an operator login, and WebSocket peers speaking ProtoMsg.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = resolve(here, '../..');
// ws and playwright-core live in hub/web's node_modules (one npm ci for both).
export const requireWeb = createRequire(join(repo, 'hub/web/package.json'));
export const WebSocket = requireWeb('ws');
export { encodeProtoMsg, decodeProtoMsg, encodeBody, decodeBody, PROTO } from '../../hub/web/src/proto.js';
import { encodeProtoMsg, decodeProtoMsg, decodeBody } from '../../hub/web/src/proto.js';

export const hubBin = process.env.TETHER_HUB_BIN || join(repo, 'build/hub/tether-hub');

// A TCP port on 127.0.0.1 that nothing listens on right now (for peers that must be
// told their port up front: nats-server, HAProxy, PostgreSQL).
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'tether-hub-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// A CA and a server certificate for localhost / 127.0.0.1, made with openssl.
export function makeCerts(dir) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=tether test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'ext.cnf'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'ext.cnf');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}

export function hashPassword(password) {
  return execFileSync(hubBin, ['--hash-password'], { input: `${password}\n` }).toString().trim();
}

export function addDevice(configFile, id, tokenFile) {
  execFileSync(hubBin, ['--config', configFile, '--add-device', id, '--token-file', tokenFile], {
    stdio: 'pipe',
  });
  return readFileSync(tokenFile, 'utf8').trim();
}

// Starts a hub with its own state dir and certificates; resolves once it listens.
// devices: ids to register; returns {port, ca, tokens, cookieFor(), stop(), log()}.
// beforeStart(configFile), if given, runs after the devices are registered and
// before the hub starts (e.g. tether-hub --add-operator).
export async function startHub({ devices = ['dev1'], extra = '', password = 'pw-' + Math.random().toString(36).slice(2), beforeStart, pingInterval = 5 } = {}) {
  const dir = tempDir();
  const certs = makeCerts(dir);
  const configFile = join(dir, 'hub.conf');
  writeFileSync(configFile, [
    '[listen]', 'address = 127.0.0.1', 'port = 0',
    '[tls]', `cert-file = ${certs.cert}`, `key-file = ${certs.key}`,
    '[hub]', `state-dir = ${join(dir, 'state')}`, `ping-interval = ${pingInterval}`,
    '[operator]', 'username = admin', `password-hash = ${hashPassword(password)}`,
    extra, '',
  ].join('\n'));
  const tokens = {};
  for (const id of devices) tokens[id] = addDevice(configFile, id, join(dir, `${id}.token`));
  if (beforeStart) beforeStart(configFile);

  const proc = spawn(hubBin, ['--config', configFile, '--log.level', 'debug'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start:\n${output}`)), 10000);
    const onData = (d) => {
      output += d.toString();
      const m = output.match(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    };
    proc.stderr.on('data', onData);
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited with ${code}:\n${output}`));
    });
  });
  const ca = readFileSync(certs.ca);
  const hub = {
    dir, port, ca, caFile: certs.ca, tokens, password, configFile, proc,
    url: `https://localhost:${port}`,
    log: () => output,
    // A hub that died of a signal (an ASan abort) has exitCode null too: only a
    // process with neither code is still there to be stopped.
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return hub;
}

// HTTPS request against the hub (node's fetch cannot take a CA per call).
// `from` binds the client to another loopback address (127.0.0.2, ...), so tests
// can be several clients as far as the hub can tell.
export async function request(hub, method, path, { body, cookie, headers = {}, from } = {}) {
  const https = await import('node:https');
  return new Promise((resolveReq, reject) => {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', servername: 'localhost', port: hub.port, method, path, ca: hub.ca,
      ...(from ? { localAddress: from, agent: false } : {}),
      headers: {
        ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) }
          : method === 'POST' ? { 'Content-Length': 0 } : {}),
        ...(cookie ? { Cookie: cookie } : {}),
        ...headers,
      },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolveReq({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

export async function login(hub, username = 'admin', password = hub.password, from = undefined) {
  const res = await request(hub, 'POST', '/api/login', { body: { username, password }, from });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${res.text}`);
  const setCookie = res.headers['set-cookie'][0];
  return setCookie.split(';')[0];
}

// A WebSocket peer with a message inbox. Resolves once open; rejects with the HTTP
// status when the upgrade is refused.
export function connect(hub, path, headers = {}) {
  return new Promise((resolveWs, reject) => {
    const ws = new WebSocket(`wss://localhost:${hub.port}${path}`, { ca: hub.ca, headers });
    const peer = new Peer(ws);
    ws.once('open', () => resolveWs(peer));
    ws.once('unexpected-response', (_req, res) => {
      const err = new Error(`upgrade refused: ${res.statusCode}`);
      err.status = res.statusCode;
      reject(err);
      ws.terminate();
    });
    ws.once('error', (e) => reject(e));
  });
}

export const devicePath = '/api/devices/v1/deviceconnect/connect';
export const operatorPath = (id) => `/api/management/v1/deviceconnect/devices/${encodeURIComponent(id)}/connect`;

export function connectDevice(hub, id) {
  return connect(hub, devicePath, { Authorization: `Bearer ${hub.tokens[id]}` });
}

export function connectOperator(hub, cookie, id) {
  return connect(hub, operatorPath(id), { Cookie: cookie, Origin: `https://localhost:${hub.port}` });
}

export class Peer {
  constructor(ws) {
    this.ws = ws;
    this.inbox = [];
    this.waiters = [];
    this.closed = null;
    ws.on('message', (data, isBinary) => {
      let msg;
      try {
        msg = isBinary ? decodeProtoMsg(new Uint8Array(data)) : { text: data.toString() };
      } catch (e) {
        msg = { undecodable: e };
      }
      this.inbox.push(msg);
      this.pump();
    });
    this.closedPromise = new Promise((r) => {
      ws.on('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        r(this.closed);
        this.pump();
      });
    });
  }

  pump() {
    for (const w of [...this.waiters]) {
      const i = this.inbox.findIndex(w.match);
      if (i >= 0) {
        const [m] = this.inbox.splice(i, 1);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(m);
      } else if (this.closed) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.reject(new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for ${w.what}`));
      }
    }
  }

  // Next message matching {proto, typ, sid} (any omitted field matches).
  next(want = {}, timeoutMs = 5000) {
    const match = (m) => m.hdr &&
      (want.proto === undefined || m.hdr.proto === want.proto) &&
      (want.typ === undefined || m.hdr.typ === want.typ) &&
      (want.sid === undefined || m.hdr.sid === want.sid);
    const what = JSON.stringify(want);
    return new Promise((resolveMsg, reject) => {
      const w = { match, resolve: resolveMsg, reject, what };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout waiting for ${what}; inbox: ${JSON.stringify(this.inbox.map((m) => m.hdr))}`));
      }, timeoutMs);
      this.waiters.push(w);
      this.pump();
    });
  }

  // Resolves true if no message matching `want` arrives within `ms`.
  async none(want, ms = 300) {
    try {
      await this.next(want, ms);
      return false;
    } catch {
      return true;
    }
  }

  send(msg) {
    this.ws.send(encodeProtoMsg(msg), { binary: true });
  }

  sendRaw(bytes, binary = true) {
    this.ws.send(bytes, { binary });
  }

  close() {
    this.ws.close(1000);
    return this.closedPromise;
  }

  waitClosed(timeoutMs = 5000) {
    return Promise.race([
      this.closedPromise,
      new Promise((_, reject) => setTimeout(() => reject(new Error('socket not closed')), timeoutMs)),
    ]);
  }
}

export function errorBody(msg) {
  return decodeBody(msg.body);
}

export const text = (bytes) => Buffer.from(bytes).toString();

// Headless chromium that trusts exactly the hub's certificate. Returns
// {browser, context, page, login()}; login() signs in as the hub's admin.
export async function openBrowser(hub, { width = 1280, height = 900 } = {}) {
  const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
  const spki = execFileSync('sh', ['-c',
    `openssl x509 -in '${join(hub.dir, 'server.pem')}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
  ]).toString().trim();
  const { chromium } = requireWeb('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki}`],
  });
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`browser: ${m.text()}`); });
  return {
    browser,
    context,
    page,
    async login() {
      await page.goto(`${hub.url}/`);
      await page.waitForSelector('[data-testid="login-form"]');
      await page.fill('[data-testid="username"]', 'admin');
      await page.fill('[data-testid="password"]', hub.password);
      await page.click('[data-testid="login-form"] button[type="submit"]');
    },
  };
}
