import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, closeSync, openSync } from 'node:fs';
import { BosunError, errorMessage } from '../util/errors.js';
import { runMigrations } from './migrations.js';
import { SqliteDatabase } from './sql/sqlite.js';

/**
 * The database holds the fleet's secrets (hashes of the manager token, provisioning and device
 * keys) and every device's reports: readable by its owner only.
 */
export const FLEET_DB_MODE = 0o600;

/**
 * SQLite's side files: the WAL and its index, and a rollback journal (from a crash before WAL
 * mode was set). They hold pages of the database itself.
 */
const SIDE_FILE_SUFFIXES = ['-wal', '-shm', '-journal'];

/**
 * Opens (creating if needed) the fleet backend's SQLite database and brings its schema up to
 * date. WAL lets readers run beside the single writer; NORMAL sync is durable across process
 * crashes, which is what a backend restart needs.
 */
export async function openSqliteFleetDb(file: string): Promise<SqliteDatabase> {
  const onDisk = file !== ':memory:' && file !== '';
  if (onDisk) restrictToOwner(file);
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const database = new SqliteDatabase(db);
  try {
    await migrate(database);
  } catch (err) {
    db.close();
    throw err;
  }
  return database;
}

async function migrate(database: SqliteDatabase): Promise<void> {
  const { db } = database;
  // A migration may remove a secret (migration 2): have SQLite zero what it frees instead of
  // leaving the old bytes in free space on disk.
  const secureDelete = db.pragma('secure_delete', { simple: true }) as 0 | 1 | 2;
  db.pragma('secure_delete = ON');
  try {
    if ((await runMigrations(database)).length === 0 || db.name === ':memory:' || db.name === '') return;
  } finally {
    db.pragma(`secure_delete = ${secureDelete === 2 ? 'FAST' : secureDelete}`);
  }
  // Copy the migrated pages into the db file and empty the WAL, so that what a migration
  // removed (a plain-text token) leaves the files now rather than at some later checkpoint.
  // Another process reading the db can keep the WAL busy; the next checkpoint then does it.
  db.pragma('wal_checkpoint(TRUNCATE)');
}

/**
 * Creates the db file 0600 if it is missing and makes an existing one (and side files left from
 * an earlier run, which SQLite reuses as they are) 0600 before SQLite opens them. SQLite creates
 * new side files with the mode of the db file, so they follow.
 */
function restrictToOwner(file: string): void {
  try {
    closeSync(openSync(file, 'a', FLEET_DB_MODE));
    chmodSync(file, FLEET_DB_MODE);
  } catch (err) {
    throw new BosunError('EFLEET_DB', `cannot open the fleet database ${file}: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  for (const suffix of SIDE_FILE_SUFFIXES) chmodIfPresent(`${file}${suffix}`);
}

function chmodIfPresent(file: string): void {
  try {
    chmodSync(file, FLEET_DB_MODE);
  } catch (err) {
    // Absent is the usual case: side files exist only while (or after a crash of) a connection.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
