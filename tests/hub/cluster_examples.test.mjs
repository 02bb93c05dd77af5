// The example deployment of several hub instances (examples/cluster/) is read by
// the programs it is for: HAProxy and nats-server check their files, systemd
// verifies the instance unit, and tether-hub starts with the example hub.conf (its
// host-specific paths and addresses swapped for the test's) the way the unit
// starts it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hubBin, repo, tempDir, makeCerts, hashPassword, freePort } from './helpers.mjs';
import { Child } from './gateway.mjs';
import { haproxyBin, natsBin } from './cluster_rig.mjs';

const examples = join(repo, 'examples/cluster');

function run(bin, args) {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}`, error: r.error };
}

test('haproxy.cfg passes haproxy -c', () => {
  const r = run(haproxyBin, ['-c', '-f', join(examples, 'haproxy.cfg')]);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /Configuration file is valid/);
  // A broken copy fails: the check is real.
  const dir = tempDir('tether-cluster-examples-');
  try {
    writeFileSync(join(dir, 'bad.cfg'),
      readFileSync(join(examples, 'haproxy.cfg'), 'utf8').replace('balance source', 'balance nosuch'));
    assert.notEqual(run(haproxyBin, ['-c', '-f', join(dir, 'bad.cfg')]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nats-server.conf passes nats-server -t and allows a whole device message', () => {
  const file = join(examples, 'nats-server.conf');
  const r = run(natsBin, ['-t', '-c', file]);
  assert.equal(r.status, 0, r.output);
  assert.match(readFileSync(file, 'utf8'), /^max_payload: 2MB$/m);
});

test('tether-hub@.service passes systemd-analyze verify', (t) => {
  if (run('systemd-analyze', ['--version']).error) {
    t.skip('systemd-analyze is not installed (scripts/setup installs systemd)');
    return;
  }
  const dir = tempDir('tether-cluster-examples-');
  try {
    // The binary is not installed in a source tree: point the unit at the built one.
    const unit = readFileSync(join(examples, 'tether-hub@.service'), 'utf8');
    assert.match(unit, /^ExecStart=\/usr\/bin\/tether-hub --config \/etc\/tether-hub\/hub\.conf --listen\.port %i$/m);
    writeFileSync(join(dir, 'tether-hub@8441.service'), unit.replaceAll('/usr/bin/tether-hub', hubBin));
    const r = run('systemd-analyze', ['verify', join(dir, 'tether-hub@8441.service')]);
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), '', 'systemd-analyze has remarks');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tether-hub starts with the example hub.conf as the instance unit runs it', async () => {
  const dir = tempDir('tether-cluster-examples-');
  let hub;
  try {
    const certs = makeCerts(dir);
    mkdirSync(join(dir, 'state'));
    const conf = readFileSync(join(examples, 'hub.conf'), 'utf8')
      .replace('address = 0.0.0.0', 'address = 127.0.0.1')
      .replace('/etc/tether-hub/server.pem', certs.cert)
      .replace('/etc/tether-hub/server.key', certs.key)
      .replace('/var/lib/tether-hub', join(dir, 'state'))
      .replace(/^#password-hash = .*$/m, `password-hash = ${hashPassword('pw')}`)
      .replace('nats://10.0.0.10:4222', `nats://127.0.0.1:${await freePort()}`);
    writeFileSync(join(dir, 'hub.conf'), conf);
    hub = new Child(hubBin, ['--config', join(dir, 'hub.conf'), '--listen.port', String(await freePort())]);
    await hub.waitFor(/listening on https:\/\/127\.0\.0\.1:\d+\//);
    // No NATS server at that address: the instance serves and keeps trying.
    await hub.waitFor(/is not reachable yet; retrying in the background/);
    assert.equal(await hub.stop(), 0, hub.output);
  } finally {
    if (hub) await hub.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
