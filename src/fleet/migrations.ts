import type { Database } from 'better-sqlite3';
import { hashKey } from './auth.js';

/** A schema change in SQL, or a data change that needs code (`up`). */
export type Migration = { id: number; name: string } & ({ sql: string } | { up: (db: Database) => void });

/** The settings row the manager token's hash lives in (migration 2 onwards). */
export const MANAGER_TOKEN_HASH_SETTING = 'manager_token_hash';

/**
 * Numbered schema migrations, applied in order, each in its own transaction, and recorded in
 * the `migrations` table. Never edit a migration that has shipped: add the next number.
 */
export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE fleets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        provisioning_key_hash TEXT NOT NULL,
        target_release_id INTEGER REFERENCES releases(id),
        created_at TEXT NOT NULL
      );
      -- One app per fleet; its numeric id appears in the devices' lock paths.
      CREATE TABLE apps (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        fleet_id INTEGER NOT NULL UNIQUE REFERENCES fleets(id),
        name TEXT NOT NULL
      );
      -- Service and image ids stay stable per service name / image ref within an app.
      CREATE TABLE services (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id),
        name TEXT NOT NULL,
        UNIQUE (app_id, name)
      );
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id),
        ref TEXT NOT NULL,
        UNIQUE (app_id, ref)
      );
      CREATE TABLE releases (
        id INTEGER PRIMARY KEY,
        app_id INTEGER NOT NULL REFERENCES apps(id),
        commit_uuid TEXT NOT NULL UNIQUE,
        compose_source TEXT NOT NULL,
        release_json TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE devices (
        id INTEGER PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        fleet_id INTEGER NOT NULL REFERENCES fleets(id),
        name TEXT NOT NULL,
        key_hash TEXT NOT NULL,
        pinned_release_id INTEGER REFERENCES releases(id),
        registered_at TEXT NOT NULL,
        last_seen TEXT,
        report_json TEXT NOT NULL DEFAULT '{}',
        -- Computed on every change that affects the device, never per poll.
        target_json TEXT NOT NULL,
        target_etag TEXT NOT NULL
      );
      CREATE INDEX devices_fleet ON devices (fleet_id);
      CREATE TABLE fleet_config (
        fleet_id INTEGER NOT NULL REFERENCES fleets(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (fleet_id, key)
      );
      CREATE TABLE device_config (
        device_id INTEGER NOT NULL REFERENCES devices(id),
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (device_id, key)
      );
    `,
  },
  {
    id: 2,
    name: 'keep only a hash of the manager token',
    // Releases before this one stored the generated token in plain text under `manager_token`.
    up: (db) => {
      const plain = db.prepare("SELECT value FROM settings WHERE key = 'manager_token'").get() as
        { value: string } | undefined;
      if (!plain) return;
      db.prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
      ).run(MANAGER_TOKEN_HASH_SETTING, hashKey(plain.value));
      db.prepare("DELETE FROM settings WHERE key = 'manager_token'").run();
    },
  },
  {
    id: 3,
    name: 'forget stored reports over the report size limit',
    // Reports are capped at 256 KiB from this release on (report-limits.ts); one stored bigger
    // before could only have been grown on purpose and would refuse every further PATCH. The
    // number is written out: a migration must not change when the limit does.
    sql: `UPDATE devices SET report_json = '{}' WHERE length(CAST(report_json AS BLOB)) > 262144;`,
  },
];

/** Applies every migration newer than the database's; returns the ids it applied. */
export function runMigrations(db: Database): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const done = new Set(
    (db.prepare('SELECT id FROM migrations').all() as Array<{ id: number }>).map((row) => row.id),
  );
  const applied: number[] = [];
  const record = db.prepare('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)');
  // A migration may remove a secret (migration 2): have SQLite zero what it frees instead of
  // leaving the old bytes in free space on disk.
  const secureDelete = db.pragma('secure_delete', { simple: true }) as 0 | 1 | 2;
  db.pragma('secure_delete = ON');
  try {
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      db.transaction(() => {
        if ('sql' in migration) db.exec(migration.sql);
        else migration.up(db);
        record.run(migration.id, migration.name, new Date().toISOString());
      })();
      applied.push(migration.id);
    }
  } finally {
    db.pragma(`secure_delete = ${secureDelete === 2 ? 'FAST' : secureDelete}`);
  }
  return applied;
}
