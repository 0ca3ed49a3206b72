import BetterSqlite3, { type Database } from 'better-sqlite3';
import { runMigrations } from './migrations.js';

/**
 * Opens (creating if needed) the fleet backend's SQLite database and brings its schema up to
 * date. WAL lets readers run beside the single writer; NORMAL sync is durable across process
 * crashes, which is what a backend restart needs.
 */
export function openFleetDb(file: string): Database {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  runMigrations(db);
  return db;
}
