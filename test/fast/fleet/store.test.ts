import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';
import { parseCompose } from '../../../src/fleet/compose.js';
import { FleetError } from '../../../src/fleet/errors.js';
import { hashKey } from '../../../src/fleet/auth.js';
import { MANAGER_TOKEN_HASH_SETTING, MIGRATIONS, runMigrations } from '../../../src/fleet/migrations.js';
import { MAX_REPORT_BYTES } from '../../../src/fleet/report-limits.js';
import { SqliteDatabase } from '../../../src/fleet/sql/sqlite.js';
import { FleetStore } from '../../../src/fleet/store.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';

async function codeOf(action: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await action();
  } catch (err) {
    if (err instanceof FleetError) return err.code;
    throw err;
  }
  return undefined;
}

describe('fleet/migrations on SQLite', () => {
  it('upgrades a schema-1 db: the plain manager token becomes its hash, oversize reports are dropped', async () => {
    const db = new BetterSqlite3(':memory:');
    const first = MIGRATIONS[0]!;
    if (!('sql' in first)) throw new Error('migration 1 is SQL');
    db.exec('CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    db.exec(first.sql.sqlite);
    db.prepare('INSERT INTO migrations VALUES (?, ?, ?)').run(first.id, first.name, '2026-01-01T00:00:00Z');
    db.prepare("INSERT INTO settings VALUES ('manager_token', 'plain-token-0123456789')").run();
    db.prepare(
      "INSERT INTO fleets (id, name, provisioning_key_hash, created_at) VALUES (1, 'k', 'h', 'now')",
    ).run();
    const device = db.prepare(
      `INSERT INTO devices (uuid, fleet_id, name, key_hash, registered_at, report_json, target_json, target_etag)
       VALUES (?, 1, 'd', 'h', 'now', ?, '', '')`,
    );
    const small = JSON.stringify({ status: 'Idle' });
    device.run('device-small', small);
    device.run('device-grown', JSON.stringify({ filler: 'x'.repeat(MAX_REPORT_BYTES) }));

    const database = new SqliteDatabase(db);
    expect(await runMigrations(database)).toEqual(MIGRATIONS.slice(1).map((m) => m.id));
    const settings = db.prepare('SELECT key, value FROM settings').all();
    expect(settings).toEqual([{ key: MANAGER_TOKEN_HASH_SETTING, value: hashKey('plain-token-0123456789') }]);
    const store = new FleetStore(database);
    expect(await store.matchesStoredManagerToken('plain-token-0123456789')).toBe(true);
    expect(await store.matchesStoredManagerToken('plain-token-012345678')).toBe(false);
    expect(await store.matchesStoredManagerToken(undefined)).toBe(false);
    const reports = db.prepare('SELECT uuid, report_json FROM devices ORDER BY uuid').all();
    expect(reports).toEqual([
      { uuid: 'device-grown', report_json: '{}' },
      { uuid: 'device-small', report_json: small },
    ]);
    await store.close();
  });
});

describe.each(FLEET_BACKENDS)('fleet/store on %s', (backend) => {
  const databases = new TestDatabases(backend);
  let store: FleetStore;

  beforeEach(async () => {
    store = await FleetStore.open(await databases.fresh());
  });

  afterEach(async () => {
    await store.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  it('applies each numbered migration once and records it', async () => {
    // FleetStore.open migrated the new database; a second run finds nothing to do.
    expect(await runMigrations(store.db)).toEqual([]);
    const recorded = await store.db.all('SELECT id, name FROM migrations ORDER BY id');
    expect(recorded).toEqual(MIGRATIONS.map(({ id, name }) => ({ id, name })));
  });

  it('recomputes a target only when something that affects it changes', async () => {
    const { provisioningKey } = await store.fleets.create('kitchen');
    await store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const etagOf = async () => (await store.devices.pollState('device-0001'))?.target_etag;
    const initial = await etagOf();
    await store.devices.mergeReports({ 'device-0001': { status: 'Idle' } }, 'device-key-1');
    expect(await etagOf()).toBe(initial);
    await store.fleets.setConfig('kitchen', 'SUPERVISOR_POLL_INTERVAL', '60000');
    const withConfig = await etagOf();
    expect(withConfig).not.toBe(initial);
    await store.fleets.setConfig('kitchen', 'SUPERVISOR_POLL_INTERVAL', '60000');
    expect(await etagOf()).toBe(withConfig);
    await store.fleets.createRelease('kitchen', parseCompose({ services: { main: { image: 'x:1' } } }), '');
    expect(await etagOf()).not.toBe(withConfig);
  });

  it('keeps service and image ids stable per name and ref within a fleet', async () => {
    await store.fleets.create('kitchen');
    const spec = (image: string) =>
      parseCompose({ services: { main: { image }, side: { image: 'side:1' } } });
    const first = await store.fleets.createRelease('kitchen', spec('main:1'), '');
    const second = await store.fleets.createRelease('kitchen', spec('main:2'), '');
    const third = await store.fleets.createRelease('kitchen', spec('main:1'), '');
    expect(second.services.main?.id).toBe(first.services.main?.id);
    expect(second.services.main?.imageId).not.toBe(first.services.main?.imageId);
    expect(third.services.main?.imageId).toBe(first.services.main?.imageId);
    expect(third.services.side).toEqual(first.services.side);
  });

  it('resolves pins by id, full commit or unique prefix, only within the device fleet', async () => {
    const { provisioningKey } = await store.fleets.create('kitchen');
    await store.fleets.create('garage');
    await store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const release = await store.fleets.createRelease(
      'kitchen',
      parseCompose({ services: { a: { image: 'x' } } }),
      '',
    );
    const other = await store.fleets.createRelease(
      'garage',
      parseCompose({ services: { a: { image: 'x' } } }),
      '',
    );
    const ref = { id: release.id, commit: release.commit };
    expect(await store.devices.pin('device-0001', String(release.id))).toEqual(ref);
    expect(await store.devices.pin('device-0001', release.commit)).toEqual(ref);
    expect(await store.devices.pin('device-0001', release.commit.slice(0, 7).toUpperCase())).toEqual(ref);
    expect(await codeOf(() => store.devices.pin('device-0001', other.commit))).toBe('EFLEET_NOT_FOUND');
    expect(await codeOf(() => store.devices.pin('device-0001', 'abc'))).toBe('EFLEET_NOT_FOUND');
    expect(await codeOf(() => store.devices.pin('device-0001', '99999999999999'))).toBe('EFLEET_NOT_FOUND');
    expect(await codeOf(() => store.devices.pin('nobody-000', '1'))).toBe('EFLEET_NOT_FOUND');
  });

  it('resolves a commit prefix made only of digits as a commit, not as a release id', async () => {
    const { provisioningKey } = await store.fleets.create('kitchen');
    await store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const release = await store.fleets.createRelease(
      'kitchen',
      parseCompose({ services: { a: { image: 'x' } } }),
      '',
    );
    // One in ~40 random commits starts with 8 decimal digits; make it certain.
    const digitsCommit = '12345678' + release.commit.slice(8);
    await store.db.run('UPDATE releases SET commit_uuid = ? WHERE id = ?', [digitsCommit, release.id]);
    expect(await store.devices.pin('device-0001', '12345678')).toEqual({
      id: release.id,
      commit: digitsCommit,
    });
    expect(await store.devices.pin('device-0001', String(release.id))).toEqual({
      id: release.id,
      commit: digitsCommit,
    });
  });

  it('refuses bad names, uuids, keys, config keys and values, and NUL characters (400, never 500)', async () => {
    expect(await codeOf(() => store.fleets.create('has space'))).toBe('EFLEET_BAD_INPUT');
    const { provisioningKey } = await store.fleets.create('kitchen');
    const register = (uuid: string, key: string, name?: string) =>
      store.devices.register({ uuid, fleet: 'kitchen', deviceApiKey: key, name }, provisioningKey);
    expect(await codeOf(() => register('short', 'device-key-1'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => register('device-0001', 'short'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => register('device-0001', 'device-key-1', 'a\0b'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => store.fleets.setConfig('kitchen', 'BAD-KEY', '1'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => store.fleets.setConfig('kitchen', 'KEY', 'a\0b'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => store.devices.mergeReports([], 'x'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => store.fleets.require('kit\0chen'))).toBe('EFLEET_NOT_FOUND');
    expect(await store.devices.pollState('device\0-0001')).toBeUndefined();
    expect(await store.fleets.unsetConfig('kitchen', 'A\0B')).toBe(false);
  });

  it('lists fleets, devices and config keys in byte order', async () => {
    for (const name of ['b', 'B', 'a', 'A']) await store.fleets.create(`fleet-${name}`);
    expect((await store.fleets.list()).map((f) => f.name)).toEqual([
      'fleet-A',
      'fleet-B',
      'fleet-a',
      'fleet-b',
    ]);
    for (const key of ['b', 'B', '_a']) await store.fleets.setConfig('fleet-a', key, '1');
    expect(Object.keys(await store.fleets.config('fleet-a'))).toEqual(['B', '_a', 'b']);
  });

  it('registers one device once when two registrations race, and creates one fleet once', async () => {
    const { provisioningKey } = await store.fleets.create('kitchen');
    const input = { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' };
    const results = await Promise.all([1, 2, 3].map(() => store.devices.register(input, provisioningKey)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.device.id)).size).toBe(1);
    const creations = await Promise.allSettled([1, 2, 3].map(() => store.fleets.create('garage')));
    expect(creations.filter((c) => c.status === 'fulfilled')).toHaveLength(1);
    for (const c of creations)
      if (c.status === 'rejected') expect((c.reason as FleetError).code).toBe('EFLEET_CONFLICT');
  });
});
