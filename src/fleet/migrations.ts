import type { Database } from 'better-sqlite3';

/**
 * Numbered schema migrations, applied in order, each in its own transaction, and recorded in
 * the `migrations` table. Never edit a migration that has shipped: add the next number.
 */
export const MIGRATIONS: ReadonlyArray<{ id: number; name: string; sql: string }> = [
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
  for (const migration of MIGRATIONS) {
    if (done.has(migration.id)) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      record.run(migration.id, migration.name, new Date().toISOString());
    })();
    applied.push(migration.id);
  }
  return applied;
}
