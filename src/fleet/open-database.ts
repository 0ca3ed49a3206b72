import pg from 'pg';
import { BosunError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { displayLocation, isPostgresUrl } from './database-location.js';
import { openSqliteFleetDb } from './db.js';
import { runMigrations } from './migrations.js';
import type { SqlDatabase } from './sql/database.js';
import { PostgresDatabase } from './sql/postgres.js';

export interface OpenDatabaseOptions {
  log?: Logger;
  /** Connections of a PostgreSQL pool; default 10 (the driver's). */
  maxConnections?: number;
}

/**
 * Opens the fleet backend's database (a SQLite file, or PostgreSQL when `location` is a
 * postgres:// URL) and brings its schema up to date. The PostgreSQL database must exist; its
 * tables are created here.
 */
export async function openFleetDatabase(
  location: string,
  options: OpenDatabaseOptions = {},
): Promise<SqlDatabase> {
  if (!isPostgresUrl(location)) return openSqliteFleetDb(location);
  const pool = new pg.Pool({ connectionString: location, max: options.maxConnections ?? 10 });
  // An idle connection the server dropped (a restart, a terminated backend) is replaced by the
  // pool on next use; without a listener the error would end the process.
  pool.on('error', (err) => options.log?.warn({ err }, 'fleet database: an idle connection failed'));
  const database = new PostgresDatabase(pool);
  try {
    await runMigrations(database);
  } catch (err) {
    await pool.end();
    throw new BosunError(
      'EFLEET_DB',
      `cannot open the fleet database ${displayLocation(location)}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
  return database;
}
