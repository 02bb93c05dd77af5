// A gateway for the hub's end-to-end tests: a private dbus-daemon (a session bus
// that only this test uses), a real tetherd on it connected to a test hub, and
// tetherctl as the local app (`config watch`, `serve`). Each part is a child process
// the test stops.
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repo, tempDir } from './helpers.mjs';

export const tetherdBin = process.env.TETHERD_BIN || join(repo, 'build/daemon/tetherd');
export const tetherctlBin = process.env.TETHERCTL_BIN || join(repo, 'build/dbus/tetherctl/tetherctl');

// A child process with its output collected and a way to wait for a line of it.
export class Child {
  constructor(bin, args, env = {}) {
    this.output = '';
    this.waiters = [];
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const onData = (d) => {
      this.output += d.toString();
      for (const w of [...this.waiters]) this.check(w);
    };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => {
      this.exitCode = code ?? signal;
      for (const w of [...this.waiters]) this.check(w);
      r(this.exitCode);
    }));
  }

  check(w) {
    const m = this.output.slice(w.from).match(w.pattern);
    if (m) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.resolve(m);
    } else if (this.exitCode !== undefined) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      clearTimeout(w.timer);
      w.reject(new Error(`exited (${this.exitCode}) before printing ${w.pattern}:\n${this.output}`));
    }
  }

  // Resolves with the first match of `pattern` in the output after offset `from`.
  waitFor(pattern, timeoutMs = 10000, from = 0) {
    return new Promise((resolve, reject) => {
      const w = { pattern, from, resolve, reject };
      w.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`timeout waiting for ${pattern}; output:\n${this.output}`));
      }, timeoutMs);
      this.waiters.push(w);
      this.check(w);
    });
  }

  // Sends `signal` (after SIGCONT, so a process a test stopped with SIGSTOP hears it
  // too) and, if the process is still there after `graceMs`, SIGKILL: a teardown
  // after a failed test must never hang. A test that checks a clean exit reads the
  // exit code, which then says SIGKILL.
  async stop(signal = 'SIGTERM', graceMs = 15000) {
    if (this.exitCode === undefined) {
      this.proc.kill('SIGCONT');
      this.proc.kill(signal);
      const timer = setTimeout(() => {
        if (this.exitCode === undefined) this.proc.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }
}

// A private session bus; resolves with {address, stop()}.
export async function startBus(dir) {
  const socket = join(dir, 'bus');
  const config = join(dir, 'bus.conf');
  writeFileSync(config, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);
  const daemon = new Child('/usr/bin/dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address']);
  const [address] = await daemon.waitFor(/unix:\S+/);
  return { address, env: { DBUS_SESSION_BUS_ADDRESS: address }, stop: () => daemon.stop('SIGKILL') };
}

// tetherd for `device` of `hub`, on `bus`, keeping its state in `stateDir`.
// A tetherd for `device` of `hub`, on the session bus `bus` (or with no D-Bus when
// `bus` is null), its state in `stateDir`.
export function startTetherd(hub, device, bus, stateDir, extra = []) {
  return new Child(tetherdBin, [
    `--server.url=wss://localhost:${hub.port}`,
    `--server.token-file=${join(hub.dir, `${device}.token`)}`,
    `--server.ca-file=${hub.caFile}`,
    '--server.backoff-max=1',
    bus ? '--dbus.bus=session' : '--dbus.bus=none',
    `--device.state-dir=${stateDir}`,
    `--device.id=${device}`,
    '--log.level=debug',
    ...extra,
  ], bus ? bus.env : {});
}

// `tetherctl config watch`, resolved once its match is in place.
export async function startWatch(bus) {
  const watch = new Child(tetherctlBin, ['--bus=session', 'config', 'watch'], bus.env);
  await watch.waitFor(/watching config changes/);
  return watch;
}

// The JSON lines `tetherctl config watch` printed so far.
export function changes(watch) {
  return watch.output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}

// The whole gateway in one call: a private bus and tetherd on it for `id`, with its
// own temp dir. `env` is what a local client (busctl --user, gdbus, tetherctl --bus
// session) needs to reach this gateway. kill() is a kill -9 of tetherd, start()
// starts it again on the same state and bus, killAndRestart() does both,
// serve(target, command, env) runs `tetherctl serve` on the bus, stop() ends all.
export async function startGateway(hub, id, { args = [] } = {}) {
  const dir = tempDir('tether-gw-test-');
  const bus = await startBus(dir);
  const env = { ...process.env, ...bus.env };
  const children = [];
  let tetherd;
  const gateway = {
    id, dir, env, bus,
    get tetherd() { return tetherd; },
    log: () => children.map((c) => c.output).join('\n'),
    start() {
      tetherd = startTetherd(hub, id, bus, join(dir, 'state'), args);
      children.push(tetherd);
      return tetherd;
    },
    // Resolves once tetherd owns its bus name (Gateway1 answers) and its link is up.
    async ready(timeoutMs = 10000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const state = gateway.run('busctl', ['--user', 'get-property', 'io.tether.Gateway1',
            '/io/tether/Gateway1', 'io.tether.Gateway1', 'State']);
          if (/online/.test(state)) return;
        } catch (e) {
          // not on the bus yet
        }
        if (Date.now() > deadline) throw new Error(`tetherd not online on its bus:\n${gateway.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    // Runs a local client on this gateway's bus; returns its stdout.
    run(command, commandArgs, options = {}) {
      return execFileSync(command, commandArgs, { env, stdio: 'pipe', ...options }).toString();
    },
    async kill(signal = 'SIGKILL') {
      if (tetherd) await tetherd.stop(signal);
    },
    async killAndRestart() {
      await gateway.kill('SIGKILL');
      gateway.start();
    },
    serve(target, command, extraEnv = {}) {
      const served = new Child(tetherctlBin, ['--bus', 'session', 'serve', target, '--', ...command],
        { ...bus.env, ...extraEnv });
      children.push(served);
      return served;
    },
    async stop() {
      for (const c of [...children].reverse()) await c.stop();
      await bus.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  gateway.start();
  await gateway.ready();
  return gateway;
}
