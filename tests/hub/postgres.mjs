// A private PostgreSQL 15 server for node tests (the C++ twin is
// tests/support/postgres_server.*): a cluster copied from one cached initdb, a
// postgres process on a unix socket in its temp dir and 127.0.0.1:<free port>, a
// fresh database per caller, restart() for recovery tests, stop() removing it all.
// Under root it runs as the `postgres` user (PostgreSQL refuses root) through
// setpriv, which also kills it if this test process dies.
//
//   const pg = await startPostgres();
//   const url = await pg.createDatabase();   // postgresql://postgres:...@127.0.0.1:PORT/t1
//   ... '[store]', `url = ${url}` ...
//   await pg.restart();                      // fast shutdown, start on the same dir and port
//   await pg.stop();                         // in after(): stops and removes everything
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers.mjs';

const binDir = '/usr/lib/postgresql/15/bin';
// Part of the cached cluster, shared with tests/support/postgres_server.cpp.
const password = 'tether-test-password';
const asRoot = process.getuid() === 0;

// The postgres process, its output collected until it says it is ready.
class Server {
  constructor(argv) {
    const [bin, ...args] = argv;
    this.output = '';
    this.proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.proc.once('exit', resolve));
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`postgres not ready:\n${this.output}`)), 60000);
      const onData = (d) => {
        this.output += d.toString();
        if (this.output.includes('database system is ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.proc.stdout.on('data', onData);
      this.proc.stderr.on('data', onData);
      this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`postgres exited (${code}):\n${this.output}`));
      });
    });
  }

  async stop(signal) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
  }
}

function postgresIds() {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

// argv run as the postgres user when we are root; the child dies with us.
function asPostgres(argv) {
  if (!asRoot) return argv;
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--clear-groups', '--pdeathsig=KILL',
    '--', ...argv];
}

// initdb once per machine and user, built aside and renamed into place (the same
// cluster, path and flags as the C++ helper, so either may build it).
function templateCluster() {
  const path = join(tmpdir(), `tether-pg15-template-v2-${process.getuid()}`);
  if (existsSync(join(path, 'data', 'PG_VERSION'))) return path;
  const building = mkdtempSync(`${path}.`);
  try {
    const ids = asRoot ? postgresIds() : null;
    if (ids) chownSync(building, ids.uid, ids.gid);
    const pwfile = join(building, 'pwfile');
    writeFileSync(pwfile, `${password}\n`);
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
    const [bin, ...args] = asPostgres([join(binDir, 'initdb'), '-D', join(building, 'data'),
      '-U', 'postgres', `--pwfile=${pwfile}`, '--auth-local=trust', '--auth-host=scram-sha-256',
      '-E', 'UTF8', '--locale=C', '--no-sync', '--wal-segsize=1']);
    execFileSync(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    rmSync(pwfile);
    try {
      renameSync(building, path);
    } catch {
      // Another test got there first.
      rmSync(building, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`initdb failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`);
  }
  return path;
}

export async function startPostgres() {
  if (!existsSync(join(binDir, 'postgres'))) {
    throw new Error(`PostgreSQL 15 is not installed (no ${binDir}/postgres): run scripts/setup`);
  }
  const template = templateCluster();
  const dir = mkdtempSync(join(tmpdir(), 'tether-pg-'));
  if (asRoot) {
    const { uid, gid } = postgresIds();
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  execFileSync('cp', ['-a', join(template, 'data'), data]);
  const port = await freePort();
  let child = null;
  let databases = 0;

  async function start() {
    child = new Server(asPostgres([join(binDir, 'postgres'), '-D', data, '-k', dir,
      '-p', String(port), '-h', '127.0.0.1', '-c', 'fsync=on', '-c', 'shared_buffers=16MB',
      '-c', 'max_connections=100']));
    await child.ready;
  }

  // SIGINT is PostgreSQL's fast shutdown (clients disconnected, data kept).
  async function halt(signal = 'SIGINT') {
    if (child) await child.stop(signal);
    child = null;
  }

  const url = (database) => `postgresql://postgres:${password}@127.0.0.1:${port}/${database}`;

  function psql(sql) {
    return execFileSync(join(binDir, 'psql'), ['-h', dir, '-p', String(port), '-U', 'postgres',
      '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql],
    { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  await start();
  // A test process that exits without stop() (an exception) leaves no server.
  const onExit = () => child?.proc.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    port,
    password,
    dir,
    url,
    psql,
    async createDatabase() {
      const name = `t${++databases}`;
      psql(`CREATE DATABASE ${name}`);
      return url(name);
    },
    stopServer: () => halt(),
    startServer: () => start(),
    async restart() {
      await halt();
      await start();
    },
    log: () => child?.output ?? '',
    async stop() {
      process.removeListener('exit', onExit);
      // SIGQUIT: immediate shutdown, the data is about to be removed.
      await halt('SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

