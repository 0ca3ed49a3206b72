/**
 * The one storage interface the fleet repositories are written against, with an implementation
 * per database: SQLite (embedded, one file) and PostgreSQL (shared by several backends).
 * SQL is written once with `?` placeholders; where the two dialects must differ, the code asks
 * `dialect`.
 */
export type SqlDialect = 'sqlite' | 'postgres';

/** What a statement parameter may be: the columns hold text and 32-bit integers only. */
export type SqlValue = string | number | null;

export interface SqlExecutor {
  readonly dialect: SqlDialect;
  all<T>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs a script of several statements without parameters (a migration). */
  exec(sql: string): Promise<void>;
}

export interface SqlDatabase extends SqlExecutor {
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws.
   * Statements of the transaction go through `tx`, never through the database itself.
   * Rows a transaction must read and then change are locked with `lockClause` (PostgreSQL's
   * `FOR UPDATE`); SQLite takes its single write lock at the start instead.
   */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * The row-lock clause to end a SELECT with, for the rows of `table` (an alias), that a
 * transaction reads and will change: `FOR UPDATE OF t` on PostgreSQL; nothing on SQLite, where
 * a write transaction already holds the whole database.
 */
export function lockClause(tx: SqlExecutor, table: string, mode: 'update' | 'share' = 'update'): string {
  if (tx.dialect === 'sqlite') return '';
  return mode === 'update' ? ` FOR UPDATE OF ${table}` : ` FOR SHARE OF ${table}`;
}

/**
 * Appended to a text column in ORDER BY: byte order, as SQLite sorts text, so lists come out in
 * the same order whatever collation the PostgreSQL database was created with.
 */
export function byteOrder(tx: SqlExecutor, column: string): string {
  return tx.dialect === 'sqlite' ? column : `${column} COLLATE "C"`;
}
