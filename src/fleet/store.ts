import type { Database } from 'better-sqlite3';
import { generateKey } from './auth.js';
import { openFleetDb } from './db.js';
import { DeviceRepository } from './device-store.js';
import { FleetRepository } from './fleet-store.js';
import { TargetWriter } from './target-writer.js';

export type TokenSource = 'option' | 'stored' | 'generated';

const MANAGER_TOKEN_SETTING = 'manager_token';

/**
 * Everything the fleet backend keeps, in one SQLite file. The server holds no other state, so a
 * restart on the same file serves the same fleets, devices, targets and ETags.
 */
export class FleetStore {
  readonly fleets: FleetRepository;
  readonly devices: DeviceRepository;

  constructor(readonly db: Database) {
    const targets = new TargetWriter(db);
    this.fleets = new FleetRepository(db, targets);
    this.devices = new DeviceRepository(db, this.fleets, targets);
  }

  static open(file: string): FleetStore {
    return new FleetStore(openFleetDb(file));
  }

  getSetting(key: string): string | undefined {
    const row = this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setSetting(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  /** The token given, else the one stored by an earlier start, else a new one (then stored). */
  managerToken(given: string | undefined): { token: string; source: TokenSource } {
    if (given) return { token: given, source: 'option' };
    const stored = this.getSetting(MANAGER_TOKEN_SETTING);
    if (stored) return { token: stored, source: 'stored' };
    const token = generateKey();
    this.setSetting(MANAGER_TOKEN_SETTING, token);
    return { token, source: 'generated' };
  }

  /** The generated manager token, for `bosun fleet token`; undefined if none was generated. */
  storedManagerToken(): string | undefined {
    return this.getSetting(MANAGER_TOKEN_SETTING);
  }

  close(): void {
    this.db.close();
  }
}
