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

/** The `$n` form of each statement, rewritten once. */
const positional = new Map<string, string>();

function toPositional(sql: string): string {
  let rewritten = positional.get(sql);
  if (rewritten === undefined) {
    rewritten = positionalPlaceholders(sql);
    positional.set(sql, rewritten);
  }
  return rewritten;
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

  constructor(private readonly target: Queryable) {}

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    try {
      const result = await this.target.query(toPositional(sql), params as SqlValue[]);
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
      const result = await this.target.query(toPositional(sql), params as SqlValue[]);
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
    this.statements = new PostgresStatements(pool);
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
        if (attempt >= TRANSACTION_ATTEMPTS || !RETRYABLE.has(sqlState(err) ?? '')) throw err;
      }
    }
  }

  private async attempt<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(new PostgresStatements(client));
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
