import { hashKey } from './auth.js';
import type { SqlDatabase, SqlDialect, SqlExecutor } from './sql/database.js';
import { POSTGRES_INITIAL_SCHEMA } from './sql/postgres-schema.js';

/**
 * A schema change in SQL (per dialect: the two differ in how ids are generated and in a few
 * functions), or a data change that needs code (`up`, written once for both).
 */
export type Migration = { id: number; name: string } & (
  { sql: Record<SqlDialect, string> } | { up: (tx: SqlExecutor) => Promise<void> }
);

/** The settings row the manager token's hash lives in (migration 2 onwards). */
export const MANAGER_TOKEN_HASH_SETTING = 'manager_token_hash';

/**
 * The PostgreSQL advisory lock held (for its transaction) by the backend that migrates, so that
 * several backends starting at once on one database migrate it once, one after the other. Any
 * fixed number; this one spells "bosun" in ASCII.
 */
export const MIGRATION_LOCK_KEY = 0x626f73756e;

/**
 * Numbered schema migrations, applied in order, and recorded in the `migrations` table. Never
 * edit a migration that has shipped: add the next number. PostgreSQL databases start at the
 * schema SQLite reached by migration 1; the later migrations then find nothing to change there.
 */
export const MIGRATIONS: ReadonlyArray<Migration> = [
  {
    id: 1,
    name: 'initial schema',
    sql: {
      sqlite: `
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
      postgres: POSTGRES_INITIAL_SCHEMA,
    },
  },
  {
    id: 2,
    name: 'keep only a hash of the manager token',
    // Releases before this one stored the generated token in plain text under `manager_token`.
    up: async (tx) => {
      const plain = await tx.get<{ value: string }>("SELECT value FROM settings WHERE key = 'manager_token'");
      if (!plain) return;
      await tx.run(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [MANAGER_TOKEN_HASH_SETTING, hashKey(plain.value)],
      );
      await tx.run("DELETE FROM settings WHERE key = 'manager_token'");
    },
  },
  {
    id: 3,
    name: 'forget stored reports over the report size limit',
    // Reports are capped at 256 KiB from this release on (report-limits.ts); one stored bigger
    // before could only have been grown on purpose and would refuse every further PATCH. The
    // number is written out: a migration must not change when the limit does.
    sql: {
      sqlite: `UPDATE devices SET report_json = '{}' WHERE length(CAST(report_json AS BLOB)) > 262144;`,
      postgres: `UPDATE devices SET report_json = '{}' WHERE octet_length(report_json) > 262144;`,
    },
  },
  {
    // 5, not 4: main's migration 4 (staged rollouts and device tags) was written alongside.
    id: 5,
    name: 'device logs',
    // The last lines each device shipped (contract section 12), trimmed as they come in. Ids only
    // grow (they order a device's lines and say where a follower stands): 64-bit on PostgreSQL,
    // whose driver answers them as text (log-store.ts turns them into numbers).
    sql: {
      sqlite: `
      CREATE TABLE device_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id INTEGER NOT NULL REFERENCES devices(id),
        at_ms INTEGER NOT NULL,
        service_name TEXT,
        is_stderr INTEGER NOT NULL DEFAULT 0,
        is_system INTEGER NOT NULL DEFAULT 0,
        message TEXT NOT NULL
      );
      CREATE INDEX device_logs_device ON device_logs (device_id, id);
    `,
      postgres: `
      CREATE TABLE device_logs (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        device_id INTEGER NOT NULL REFERENCES devices(id),
        at_ms BIGINT NOT NULL,
        service_name TEXT,
        is_stderr SMALLINT NOT NULL DEFAULT 0,
        is_system SMALLINT NOT NULL DEFAULT 0,
        message TEXT NOT NULL
      );
      CREATE INDEX device_logs_device ON device_logs (device_id, id);
    `,
    },
  },
];

/**
 * Applies every migration newer than the database's, all in one transaction; returns the ids it
 * applied. On PostgreSQL the transaction first takes the migration lock: a backend that starts
 * while another migrates waits, then finds the work done.
 */
export function runMigrations(db: SqlDatabase): Promise<number[]> {
  return db.transaction(async (tx) => {
    if (tx.dialect === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS migrations (
      id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
    const done = new Set((await tx.all<{ id: number }>('SELECT id FROM migrations')).map((row) => row.id));
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      if ('sql' in migration) await tx.exec(migration.sql[tx.dialect]);
      else await migration.up(tx);
      await tx.run('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)', [
        migration.id,
        migration.name,
        new Date().toISOString(),
      ]);
      applied.push(migration.id);
    }
    return applied;
  });
}
