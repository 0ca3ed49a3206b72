import { describe, expect, it } from '@jest/globals';
import BetterSqlite3 from 'better-sqlite3';
import { parseCompose } from '../../src/fleet/compose.js';
import { FleetError } from '../../src/fleet/errors.js';
import { hashKey } from '../../src/fleet/auth.js';
import { MANAGER_TOKEN_HASH_SETTING, MIGRATIONS, runMigrations } from '../../src/fleet/migrations.js';
import { MAX_REPORT_BYTES } from '../../src/fleet/report-limits.js';
import { FleetStore } from '../../src/fleet/store.js';

function memoryDb(): BetterSqlite3.Database {
  const db = new BetterSqlite3(':memory:');
  runMigrations(db);
  return db;
}

function memoryStore(db = memoryDb()): FleetStore {
  return new FleetStore(db);
}

function codeOf(action: () => unknown): string | undefined {
  try {
    action();
  } catch (err) {
    if (err instanceof FleetError) return err.code;
    throw err;
  }
  return undefined;
}

describe('fleet/migrations', () => {
  it('applies each numbered migration once and records it', () => {
    const db = new BetterSqlite3(':memory:');
    expect(runMigrations(db)).toEqual(MIGRATIONS.map((m) => m.id));
    expect(runMigrations(db)).toEqual([]);
    const recorded = db.prepare('SELECT id, name FROM migrations ORDER BY id').all();
    expect(recorded).toEqual(MIGRATIONS.map(({ id, name }) => ({ id, name })));
  });

  it('upgrades a schema-1 db: the plain manager token becomes its hash, oversize reports are dropped', () => {
    const db = new BetterSqlite3(':memory:');
    const first = MIGRATIONS[0]!;
    db.exec('CREATE TABLE migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    db.exec((first as { sql: string }).sql);
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

    expect(runMigrations(db)).toEqual(MIGRATIONS.slice(1).map((m) => m.id));
    const settings = db.prepare('SELECT key, value FROM settings').all();
    expect(settings).toEqual([{ key: MANAGER_TOKEN_HASH_SETTING, value: hashKey('plain-token-0123456789') }]);
    const store = new FleetStore(db);
    expect(store.matchesStoredManagerToken('plain-token-0123456789')).toBe(true);
    expect(store.matchesStoredManagerToken('plain-token-012345678')).toBe(false);
    expect(store.matchesStoredManagerToken(undefined)).toBe(false);
    const reports = db.prepare('SELECT uuid, report_json FROM devices ORDER BY uuid').all();
    expect(reports).toEqual([
      { uuid: 'device-grown', report_json: '{}' },
      { uuid: 'device-small', report_json: small },
    ]);
  });
});

describe('fleet/store', () => {
  it('recomputes a target only when something that affects it changes', () => {
    const store = memoryStore();
    const { provisioningKey } = store.fleets.create('kitchen');
    store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const etagOf = () => store.devices.pollState('device-0001')?.target_etag;
    const initial = etagOf();
    store.devices.mergeReports({ 'device-0001': { status: 'Idle' } }, 'device-key-1');
    expect(etagOf()).toBe(initial);
    store.fleets.setConfig('kitchen', 'SUPERVISOR_POLL_INTERVAL', '60000');
    const withConfig = etagOf();
    expect(withConfig).not.toBe(initial);
    store.fleets.setConfig('kitchen', 'SUPERVISOR_POLL_INTERVAL', '60000');
    expect(etagOf()).toBe(withConfig);
    store.fleets.createRelease('kitchen', parseCompose({ services: { main: { image: 'x:1' } } }), '');
    expect(etagOf()).not.toBe(withConfig);
  });

  it('keeps service and image ids stable per name and ref within a fleet', () => {
    const store = memoryStore();
    store.fleets.create('kitchen');
    const spec = (image: string) =>
      parseCompose({ services: { main: { image }, side: { image: 'side:1' } } });
    const first = store.fleets.createRelease('kitchen', spec('main:1'), '');
    const second = store.fleets.createRelease('kitchen', spec('main:2'), '');
    const third = store.fleets.createRelease('kitchen', spec('main:1'), '');
    expect(second.services.main?.id).toBe(first.services.main?.id);
    expect(second.services.main?.imageId).not.toBe(first.services.main?.imageId);
    expect(third.services.main?.imageId).toBe(first.services.main?.imageId);
    expect(third.services.side).toEqual(first.services.side);
  });

  it('resolves pins by id, full commit or unique prefix, only within the device fleet', () => {
    const store = memoryStore();
    const { provisioningKey } = store.fleets.create('kitchen');
    store.fleets.create('garage');
    store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const release = store.fleets.createRelease(
      'kitchen',
      parseCompose({ services: { a: { image: 'x' } } }),
      '',
    );
    const other = store.fleets.createRelease('garage', parseCompose({ services: { a: { image: 'x' } } }), '');
    expect(store.devices.pin('device-0001', String(release.id))).toEqual({
      id: release.id,
      commit: release.commit,
    });
    expect(store.devices.pin('device-0001', release.commit)).toEqual({
      id: release.id,
      commit: release.commit,
    });
    expect(codeOf(() => store.devices.pin('device-0001', other.commit))).toBe('EFLEET_NOT_FOUND');
    expect(codeOf(() => store.devices.pin('device-0001', 'abc'))).toBe('EFLEET_NOT_FOUND');
    expect(codeOf(() => store.devices.pin('nobody-000', '1'))).toBe('EFLEET_NOT_FOUND');
  });

  it('resolves a commit prefix made only of digits as a commit, not as a release id', () => {
    const db = memoryDb();
    const store = memoryStore(db);
    const { provisioningKey } = store.fleets.create('kitchen');
    store.devices.register(
      { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    const release = store.fleets.createRelease(
      'kitchen',
      parseCompose({ services: { a: { image: 'x' } } }),
      '',
    );
    // One in ~40 random commits starts with 8 decimal digits; make it certain.
    const digitsCommit = '12345678' + release.commit.slice(8);
    db.prepare('UPDATE releases SET commit_uuid = ? WHERE id = ?').run(digitsCommit, release.id);
    expect(store.devices.pin('device-0001', '12345678')).toEqual({ id: release.id, commit: digitsCommit });
    expect(store.devices.pin('device-0001', String(release.id))).toEqual({
      id: release.id,
      commit: digitsCommit,
    });
  });

  it('refuses bad names, uuids, keys and config keys', () => {
    const store = memoryStore();
    expect(codeOf(() => store.fleets.create('has space'))).toBe('EFLEET_BAD_INPUT');
    const { provisioningKey } = store.fleets.create('kitchen');
    const register = (uuid: string, key: string) =>
      store.devices.register({ uuid, fleet: 'kitchen', deviceApiKey: key }, provisioningKey);
    expect(codeOf(() => register('short', 'device-key-1'))).toBe('EFLEET_BAD_INPUT');
    expect(codeOf(() => register('device-0001', 'short'))).toBe('EFLEET_BAD_INPUT');
    expect(codeOf(() => store.fleets.setConfig('kitchen', 'BAD-KEY', '1'))).toBe('EFLEET_BAD_INPUT');
    expect(codeOf(() => store.devices.mergeReports([], 'x'))).toBe('EFLEET_BAD_INPUT');
  });
});
