import pg from 'pg';
import { badInput } from '../errors.js';
import type { SqlDatabase, SqlExecutor, SqlValue } from './database.js';
import { positionalPlaceholders } from './placeholders.js';

/** Anything that runs a query: the pool (one statement, any connection) or a checked-out client. */
type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;

/**
 * SQLSTATEs after which the whole transaction may simply run again: a serialization failure
 * and a deadlock PostgreSQL broke by aborting this side.
 */
const RETRYABLE = new Set(['40001', '40P01']);
const TRANSACTION_ATTEMPTS = 4;

/**
 * Statements run as named (server-side prepared) statements once they have run twice, so each
 * pooled connection parses and plans them once instead of on every call: a target poll is one
 * short indexed read, and at thousands of polls a second the parse and plan were a large share of
 * PostgreSQL's work. Statements built on the fly (batched inserts of varying length) rarely run
 * twice with the same text, and at most MAX_NAMED statements get a name, so neither this map nor
 * a connection's prepared statements grow without bound.
 */
const MAX_NAMED = 256;

interface StatementForm {
  /** The `$n` form of the statement. */
  text: string;
  /** Set from the second run on; never set for a statement PostgreSQL refused to reuse. */
  name?: string;
  runs: number;
  unnamedForGood?: boolean;
}

const statements = new Map<string, StatementForm>();
let namedCount = 0;

function statementFor(sql: string): StatementForm {
  let form = statements.get(sql);
  if (form === undefined) {
    form = { text: positionalPlaceholders(sql), runs: 0 };
    // Past the bound the rewrite is redone on every run rather than remembered.
    if (statements.size < 4 * MAX_NAMED) statements.set(sql, form);
  }
  form.runs += 1;
  if (form.name === undefined && !form.unnamedForGood && form.runs >= 2 && namedCount < MAX_NAMED) {
    namedCount += 1;
    form.name = `bosun_${namedCount}`;
  }
  return form;
}

/**
 * PostgreSQL refuses to run a prepared statement whose result columns changed under it (another
 * backend on the database migrated a table this `SELECT *` reads): "cached plan must not change
 * result type". The statement then runs unnamed, now and from then on.
 */
function isStalePlan(err: unknown): boolean {
  return sqlState(err) === '0A000' && /cached plan must not change result type/.test((err as Error).message);
}

/**
 * Runs one statement, named once it has run before. A stale plan outside a transaction is retried
 * at once, unnamed; inside one the transaction is already aborted, so the error goes up and the
 * transaction runs again (see `transaction`), this statement unnamed.
 */
async function runStatement(
  target: Queryable,
  sql: string,
  params: readonly SqlValue[],
  inTransaction: boolean,
): Promise<pg.QueryResult> {
  const form = statementFor(sql);
  const values = params as SqlValue[];
  if (form.name === undefined) return target.query(form.text, values);
  try {
    return await target.query({ name: form.name, text: form.text, values });
  } catch (err) {
    if (!isStalePlan(err)) throw err;
    form.name = undefined;
    form.unnamedForGood = true;
    if (inTransaction) throw err;
    return target.query(form.text, values);
  }
}

function sqlState(err: unknown): string | undefined {
  return err instanceof pg.DatabaseError ? err.code : undefined;
}

/**
 * A value PostgreSQL cannot take (class 22, data exception: a NUL byte in text, a number out of
 * range) came from a request: a 400 naming the problem, not a 500. Validation catches the known
 * cases first; this is the net under it.
 */
function asRequestError(err: unknown): unknown {
  const state = sqlState(err);
  if (state?.startsWith('22')) return badInput(`value not accepted: ${(err as Error).message}`);
  return err;
}

class PostgresStatements implements SqlExecutor {
  readonly dialect = 'postgres';

  constructor(
    private readonly target: Queryable,
    private readonly inTransaction: boolean,
  ) {}

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    try {
      const result = await runStatement(this.target, sql, params, this.inTransaction);
      return result.rows as T[];
    } catch (err) {
      throw asRequestError(err);
    }
  }

  async get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return (await this.all<T>(sql, params))[0];
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    try {
      const result = await runStatement(this.target, sql, params, this.inTransaction);
      return result.rowCount ?? 0;
    } catch (err) {
      throw asRequestError(err);
    }
  }

  async exec(sql: string): Promise<void> {
    // No parameters: the simple query protocol, which runs several statements.
    await this.target.query(sql);
  }
}

/**
 * The PostgreSQL implementation over a pool of connections. Statements outside a transaction run
 * on any pooled connection; a transaction checks one out for its whole length. Concurrency
 * between transactions (in this process or in another backend on the same database) is
 * PostgreSQL's: row locks taken with `lockClause`, and a retry of the whole transaction on a
 * deadlock or serialization failure.
 */
export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres';
  private readonly statements: PostgresStatements;

  constructor(private readonly pool: pg.Pool) {
    this.statements = new PostgresStatements(pool, false);
  }

  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    return this.statements.all<T>(sql, params);
  }

  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    return this.statements.get<T>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.statements.run(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.statements.exec(sql);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(work);
      } catch (err) {
        const retryable = RETRYABLE.has(sqlState(err) ?? '') || isStalePlan(err);
        if (attempt >= TRANSACTION_ATTEMPTS || !retryable) throw err;
      }
    }
  }

  private async attempt<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(new PostgresStatements(client, true));
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      await client.query('ROLLBACK').then(
        () => client.release(),
        // A connection that cannot even roll back is broken: drop it from the pool.
        (rollbackError: unknown) => client.release(rollbackError as Error),
      );
      throw err;
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
