// scripts/cluster-demo as a user runs it (on the already built binaries, in a
// temp dir, on free ports): it says it is running, its simulated devices come
// online through HAProxy, an operator logs in through HAProxy and drives a shell
// on one of them, and SIGINT (Ctrl-C) stops every process it started. With
// TETHER_CLUSTER_STORE=postgresql it runs as `--postgres` (its own PostgreSQL as
// the store, on the fifth port above the balancer's, stopped with the rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect as tcpConnect } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hubBin, repo, tempDir, login, request } from './helpers.mjs';
import { Child } from './gateway.mjs';
import { attach, openShell, echo, until } from './cluster_rig.mjs';

const SIM = 20;
const POSTGRES = process.env.TETHER_CLUSTER_STORE === 'postgresql';
const PORTS = POSTGRES ? [0, 1, 2, 3, 4, 5] : [0, 1, 2, 3, 4];

const listenable = (port) => new Promise((resolve) => {
  const s = createServer();
  s.once('error', () => resolve(false));
  s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
});

// A port P with P..P+4 free (the balancer, three hubs, nats-server; P+5 PostgreSQL).
async function freeRange() {
  for (;;) {
    const p = 20000 + Math.floor(Math.random() * 40000);
    const free = await Promise.all(PORTS.map((i) => listenable(p + i)));
    if (free.every(Boolean)) return p;
  }
}

const accepts = (port) => new Promise((resolve) => {
  const s = tcpConnect({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

test('scripts/cluster-demo runs three hubs behind HAProxy and stops them all on Ctrl-C', async () => {
  const dir = tempDir('tether-cluster-demo-');
  const port = await freeRange();
  const demo = new Child(join(repo, 'scripts/cluster-demo'), ['--sim', String(SIM), ...(POSTGRES ? ['--postgres'] : [])], {
    TETHER_BUILD: dirname(dirname(hubBin)), TETHER_CLUSTER_PORT: String(port),
    TETHER_CLUSTER_DEMO_DIR: dir,
  });
  try {
    await demo.waitFor(/tether cluster demo is running/, 30000);
    if (POSTGRES) {
      assert.match(readFileSync(join(dir, 'hub.conf'), 'utf8'), /^url = postgresql:\/\//m);
      assert.equal(await accepts(port + 5), true, 'PostgreSQL does not listen');
    }
    const password = demo.output.match(/login: +admin \/ (\S+)/)[1];
    const front = { port, ca: readFileSync(join(dir, 'ca.pem')), password };
    const cookie = await login(front);
    await until(`${SIM} devices online`, async () =>
      (await request(front, 'GET', '/api/devices?online=true', { cookie })).json.total === SIM, 20000);
    const ws = await attach({ port, ca: front.ca }, cookie, 'sim-01');
    await openShell(ws, 'demo');
    await echo(ws, 'demo', 'echo through the balancer\n');
    await ws.close();
    // The three instances each hold some of the fleet.
    for (const name of ['a', 'b', 'c']) {
      assert.match(readFileSync(join(dir, `hub-${name}.log`), 'utf8'), /device sim-\d+ connected/, name);
    }
    demo.proc.kill('SIGINT');
    await demo.exited;
    assert.match(demo.output, /cluster-demo: stopped/);
    for (const i of PORTS) assert.equal(await accepts(port + i), false, `port ${port + i} still open`);
  } finally {
    await demo.stop('SIGINT');
    rmSync(dir, { recursive: true, force: true });
  }
});
