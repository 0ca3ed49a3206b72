/**
 * Attack review finding: the fleet database was world-readable (0644) and held the manager
 * token in plain text, so any local user could read the token and run the fleet.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MIGRATIONS } from '../../../src/fleet/migrations.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { httpCall } from '../../helpers/fleet-http.js';

const modeOf = (file: string) => statSync(file).mode & 0o777;

/** The db file and whichever WAL side files exist, as SQLite names them. */
function dbFiles(dbFile: string): string[] {
  return [dbFile, `${dbFile}-wal`, `${dbFile}-shm`].filter((file) => existsSync(file));
}

/** True when any byte of the db or its side files spells `secret`. */
function onDisk(dbFile: string, secret: string): boolean {
  return dbFiles(dbFile).some((file) => readFileSync(file).includes(Buffer.from(secret)));
}

/**
 * A database as the release before this fix left it: schema 1 only, the generated manager
 * token in plain text, file mode 0644 (and its WAL side files, left by a crash, 0644 too).
 */
function legacyDatabase(dbFile: string, token: string): void {
  const db = new BetterSqlite3(dbFile);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const first = MIGRATIONS[0]!;
  if (!('sql' in first)) throw new Error('migration 1 is SQL');
  db.exec(first.sql.sqlite);
  db.prepare('INSERT INTO migrations (id, name, applied_at) VALUES (?, ?, ?)').run(
    first.id,
    first.name,
    new Date().toISOString(),
  );
  db.prepare("INSERT INTO settings (key, value) VALUES ('manager_token', ?)").run(token);
  db.close();
  chmodSync(dbFile, 0o644);
}

describe('fleet backend database: file mode and manager token at rest', () => {
  let dir: string;
  let dbFile: string;
  let server: FleetServer | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-fleet-secrets-'));
    dbFile = path.join(dir, 'fleet.db');
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const listFleets = (key: string) => httpCall(server!.url, 'GET', '/v1/fleets', { key });

  it('creates the db and its WAL side files 0600, whatever the umask', async () => {
    const previous = process.umask(0o022);
    try {
      server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile });
    } finally {
      process.umask(previous);
    }
    // A write makes sure the WAL and its index exist while the server runs.
    expect(
      (await httpCall(server.url, 'POST', '/v1/fleets', { key: server.token, body: { name: 'k' } })).status,
    ).toBe(201);
    const files = dbFiles(dbFile);
    expect(files).toEqual([dbFile, `${dbFile}-wal`, `${dbFile}-shm`]);
    for (const file of files) expect({ file, mode: modeOf(file).toString(8) }).toEqual({ file, mode: '600' });
  });

  it('keeps only a hash of a generated manager token, shows it once, and accepts it after a restart', async () => {
    server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile });
    expect(server.tokenSource).toBe('generated');
    const token = server.token!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((await listFleets(token)).status).toBe(200);
    expect(onDisk(dbFile, token)).toBe(false);
    await server.close();
    expect(onDisk(dbFile, token)).toBe(false);

    server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile });
    expect(server.tokenSource).toBe('stored');
    expect(server.token).toBeUndefined();
    expect((await listFleets(token)).status).toBe(200);
    expect((await listFleets(`${token}x`)).status).toBe(401);
  });

  it('migrates a database with a plain token: hashed, plain text gone from the files, mode 0600', async () => {
    const token = 'plainTokenFromAnOlderRelease0123';
    legacyDatabase(dbFile, token);
    expect(onDisk(dbFile, token)).toBe(true);
    expect(modeOf(dbFile)).toBe(0o644);

    server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile });
    expect(server.tokenSource).toBe('stored');
    expect((await listFleets(token)).status).toBe(200);
    expect((await listFleets('not-the-token')).status).toBe(401);
    for (const file of dbFiles(dbFile)) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: 0o600 });
    expect(onDisk(dbFile, token)).toBe(false);
    await server.close();
    server = undefined;
    expect(onDisk(dbFile, token)).toBe(false);
  });

  it('tightens an existing 0644 db and 0644 side files before SQLite reads them', async () => {
    server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile, token: 'given-token-123' });
    await server.close();
    server = undefined;
    chmodSync(dbFile, 0o644);
    // Side files left behind (a crash) keep the mode they had when SQLite reuses them.
    const db = new BetterSqlite3(dbFile);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE scratch (x)');
    for (const file of dbFiles(dbFile)) chmodSync(file, 0o644);
    server = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile, token: 'given-token-123' });
    db.close();
    for (const file of dbFiles(dbFile)) expect({ file, mode: modeOf(file) }).toEqual({ file, mode: 0o600 });
  });
});
