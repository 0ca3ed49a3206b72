/**
 * PostgreSQL statements that run again are prepared once per connection (named statements), and
 * a prepared `SELECT *` whose table another backend migrated under it still answers, in and out
 * of a transaction, with the new columns.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { PostgresDatabase } from '../../../src/fleet/sql/postgres.js';
import { TestDatabases } from '../../helpers/fleet-databases.js';

describe('PostgreSQL named statements', () => {
  const databases = new TestDatabases('postgres');
  let database: PostgresDatabase;
  /** A second connection, as another backend process on the same database would have. */
  let other: pg.Client;

  beforeEach(async () => {
    const url = await databases.fresh();
    // One connection: what the statements prepared is visible in that session's catalogue.
    database = new PostgresDatabase(new pg.Pool({ connectionString: url, max: 1 }));
    other = new pg.Client({ connectionString: url });
    await other.connect();
    await database.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT); INSERT INTO t VALUES (1, $$x$$)');
  });

  afterEach(async () => {
    await other.end();
    await database.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  const prepared = () =>
    database.all<{ statement: string }>('SELECT statement FROM pg_prepared_statements ORDER BY statement');

  it('prepares a statement from its second run on, once per connection', async () => {
    const poll = 'SELECT a FROM t WHERE id = ?';
    expect(await database.get(poll, [1])).toEqual({ a: 'x' });
    expect((await prepared()).map((p) => p.statement)).not.toContain('SELECT a FROM t WHERE id = $1');
    for (let i = 0; i < 3; i++) expect(await database.get(poll, [1])).toEqual({ a: 'x' });
    const statements = (await prepared()).map((p) => p.statement);
    expect(statements.filter((s) => s === 'SELECT a FROM t WHERE id = $1')).toHaveLength(1);
  });

  it('answers with the new columns after another backend migrated the table', async () => {
    const read = 'SELECT * FROM t WHERE id = ?';
    await database.get(read, [1]);
    expect(await database.get(read, [1])).toEqual({ id: 1, a: 'x' });
    await other.query(`ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'new'`);
    expect(await database.get(read, [1])).toEqual({ id: 1, a: 'x', b: 'new' });
    expect(await database.get(read, [1])).toEqual({ id: 1, a: 'x', b: 'new' });
  });

  it('runs a transaction again, whole, when a statement in it met a migrated table', async () => {
    const read = 'SELECT * FROM t WHERE id = ? FOR UPDATE';
    const write = 'UPDATE t SET a = ? WHERE id = ?';
    const bump = (value: string) =>
      database.transaction(async (tx) => {
        const row = await tx.get<{ a: string }>(read, [1]);
        await tx.run(write, [`${row!.a}${value}`, 1]);
        return tx.get(read, [1]);
      });
    await bump('1');
    await bump('2');
    await other.query(`ALTER TABLE t ADD COLUMN c INTEGER NOT NULL DEFAULT 7`);
    // The first attempt fails at the prepared read and rolls back; the second runs it unnamed.
    expect(await bump('3')).toEqual({ id: 1, a: 'x123', c: 7 });
  });
});
