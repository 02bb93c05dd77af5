// A real gateway for the hub's command tests: a private dbus-daemon, tetherd on it
// (dbus.bus=session) connected to a test hub, and `tetherctl serve` processes
// making scripts command targets. Everything is stopped by stop().
import { spawn } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { userInfo } from 'node:os';
import { repo, tempDir } from './helpers.mjs';

export const tetherdBin = process.env.TETHERD_BIN || join(repo, 'build/daemon/tetherd');
export const tetherctlBin = process.env.TETHERCTL_BIN || join(repo, 'build/dbus/tetherctl/tetherctl');

// A child whose output is kept; waitFor(re) resolves when its output matches.
function child(bin, args, env) {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  const c = { proc, output: '' };
  const waiters = [];
  const onData = (d) => {
    c.output += d.toString();
    for (const w of [...waiters]) {
      if (w.re.test(c.output)) {
        waiters.splice(waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  c.waitFor = (re, ms = 10000) => new Promise((resolve, reject) => {
    if (re.test(c.output)) return resolve();
    const w = { re, resolve };
    w.timer = setTimeout(() => {
      waiters.splice(waiters.indexOf(w), 1);
      reject(new Error(`${bin} never printed ${re}:\n${c.output}`));
    }, ms);
    waiters.push(w);
  });
  c.stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  return c;
}

// Starts the bus and tetherd for device `id` of `hub`. serve(target, command, env)
// starts `tetherctl serve target -- command...` on its bus.
export async function startGateway(hub, id) {
  if (!existsSync(tetherdBin)) throw new Error(`tetherd not built at ${tetherdBin} (set TETHERD_BIN)`);
  if (!existsSync(tetherctlBin)) throw new Error(`tetherctl not built at ${tetherctlBin} (set TETHERCTL_BIN)`);
  const dir = tempDir('tether-gateway-');
  const busConf = join(dir, 'bus.conf');
  writeFileSync(busConf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${join(dir, 'bus')}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);
  const children = [];
  const bus = child('/usr/bin/dbus-daemon', [`--config-file=${busConf}`, '--nofork', '--print-address'], {});
  children.push(bus);
  await bus.waitFor(/unix:\S+\n/);
  const address = bus.output.match(/(unix:\S+)\n/)[1];
  const env = { DBUS_SESSION_BUS_ADDRESS: address };
  const tetherdArgs = [
    `--server.url=wss://localhost:${hub.port}`,
    `--server.token-file=${join(hub.dir, `${id}.token`)}`,
    `--server.ca-file=${hub.caFile}`,
    '--dbus.bus=session',
    `--device.state-dir=${join(dir, 'device-state')}`,
    `--device.id=${id}`,
    `--shell.user=${userInfo().username}`,
  ];
  let tetherd = child(tetherdBin, tetherdArgs, env);
  children.push(tetherd);
  return {
    dir,
    get tetherd() { return tetherd; },
    // kill -9 of tetherd, and a new one on the same state dir.
    async killAndRestart() {
      const exited = new Promise((r) => tetherd.proc.once('exit', r));
      tetherd.proc.kill('SIGKILL');
      await exited;
      tetherd = child(tetherdBin, tetherdArgs, env);
      children.push(tetherd);
    },
    // Resolves once tetherd owns its name on the bus and its link to the hub is up.
    async ready() {
      for (let i = 0; i < 200; i += 1) {
        const probe = child('/usr/bin/dbus-send', ['--session', '--print-reply', '--dest=org.freedesktop.DBus',
          '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', 'string:io.tether.Gateway1'], env);
        await new Promise((r) => probe.proc.once('exit', r));
        if (/boolean true/.test(probe.output) && /connected to/.test(tetherd.output)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`tetherd never came up on its bus:\n${tetherd.output}`);
    },
    serve(target, command, extraEnv = {}) {
      const s = child(tetherctlBin, ['--bus', 'session', 'serve', target, '--', ...command], { ...env, ...extraEnv });
      children.push(s);
      return s;
    },
    log: () => children.map((c) => c.output).join('\n'),
    async stop() {
      for (const c of children.reverse()) await c.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
