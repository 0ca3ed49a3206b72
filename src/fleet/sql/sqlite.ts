import type { Database, Statement } from 'better-sqlite3';
import type { SqlDatabase, SqlExecutor, SqlValue } from './database.js';

/**
 * Runs statements on one better-sqlite3 connection. Its calls are synchronous, so a statement
 * costs no more than before; only the answer is wrapped in a promise. Prepared statements are
 * cached by their text.
 */
class SqliteStatements implements SqlExecutor {
  readonly dialect = 'sqlite';
  private readonly prepared = new Map<string, Statement>();

  constructor(readonly db: Database) {}

  statement(sql: string): Statement {
    let statement = this.prepared.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.prepared.set(sql, statement);
    }
    return statement;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.statement(sql).all(...params) as T[];
  }

  async get<T>(sql: string, params: readonly SqlValue[] = []): Promise<T | undefined> {
    return this.statement(sql).get(...params) as T | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.statement(sql).run(...params).changes;
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
}

/**
 * The SQLite implementation. A transaction's work is asynchronous (the repositories are written
 * for PostgreSQL too), and all of this process's requests share the one connection, so:
 * transactions run one at a time (a queue), and a statement outside a transaction waits while
 * one is open, so that it never sees (or joins) uncommitted changes. BEGIN IMMEDIATE takes the
 * database's write lock at the start, so other processes on the same file wait (busy_timeout)
 * instead of failing half-way.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite';
  private readonly statements: SqliteStatements;
  /** Settles when every transaction queued so far has finished. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(readonly db: Database) {
    this.statements = new SqliteStatements(db);
  }

  async all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    if (this.queued > 0) await this.queue;
    return this.statements.all<T>(sql, params);
  }

  async get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
    if (this.queued > 0) await this.queue;
    return this.statements.get<T>(sql, params);
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    if (this.queued > 0) await this.queue;
    return this.statements.run(sql, params);
  }

  async exec(sql: string): Promise<void> {
    if (this.queued > 0) await this.queue;
    return this.statements.exec(sql);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.queue.then(() => this.runTransaction(work));
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queue = settled.then(() => {
      this.queued--;
    });
    return result;
  }

  private async runTransaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = await work(this.statements);
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      // Some errors (SQLITE_FULL, an interrupted statement) end the transaction themselves.
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  async close(): Promise<void> {
    // Let queued transactions finish rather than cut them off.
    await this.queue;
    this.db.close();
  }
}
