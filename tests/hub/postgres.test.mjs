// The node PostgreSQL helper (postgres.mjs) that the hub's cluster tests start
// their database with: a database per caller, data kept across restart(), and
// nothing left behind by stop().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startPostgres } from './postgres.mjs';

test('private PostgreSQL: databases, restart, cleanup', async () => {
  const pg = await startPostgres();
  try {
    const a = await pg.createDatabase();
    const b = await pg.createDatabase();
    assert.match(a, new RegExp(`^postgresql://postgres:${pg.password}@127\\.0\\.0\\.1:${pg.port}/t1$`));
    assert.notEqual(a, b);
    pg.psql('CREATE TABLE kept (n BIGINT); INSERT INTO kept VALUES (42)');
    await pg.restart();
    assert.equal(pg.psql('SELECT n FROM kept').trim(), '42');
    await pg.stopServer();
    assert.throws(() => pg.psql('SELECT 1'));
    await pg.startServer();
    assert.equal(pg.psql('SELECT count(*) FROM pg_database WHERE datname LIKE $$t_$$').trim(), '2');
  } finally {
    await pg.stop();
  }
  assert.equal(existsSync(pg.dir), false);
});
