import type { Database } from 'better-sqlite3';
import { generateKey, hashKey, keyMatchesHash } from './auth.js';
import { openFleetDb } from './db.js';
import { DeviceRepository } from './device-store.js';
import { FleetRepository } from './fleet-store.js';
import { MANAGER_TOKEN_HASH_SETTING } from './migrations.js';
import { TargetWriter } from './target-writer.js';

export type TokenSource = 'option' | 'stored' | 'generated';

/** How the manager token of a starting server was found. */
export interface ManagerTokenSetup {
  source: TokenSource;
  /**
   * The token in plain text when this process knows it: given as an option, or generated just
   * now (to be shown this once). Undefined when only its hash is stored.
   */
  token?: string;
}

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

  /**
   * The token given, else the one an earlier start stored (as a hash), else a new one: its hash
   * is stored and the token returned, the only time it exists in plain text. When two servers
   * start on one new db at once, the first to store wins and the other reports it as stored.
   */
  setUpManagerToken(given: string | undefined): ManagerTokenSetup {
    if (given) return { source: 'option', token: given };
    return this.db
      .transaction((): ManagerTokenSetup => {
        if (this.managerTokenHash() !== undefined) return { source: 'stored' };
        const token = generateKey();
        this.setSetting(MANAGER_TOKEN_HASH_SETTING, hashKey(token));
        return { source: 'generated', token };
      })
      .immediate();
  }

  /** Replaces the stored manager token with a new one (for `bosun fleet token --rotate`). */
  rotateManagerToken(): string {
    const token = generateKey();
    this.setSetting(MANAGER_TOKEN_HASH_SETTING, hashKey(token));
    return token;
  }

  managerTokenHash(): string | undefined {
    return this.getSetting(MANAGER_TOKEN_HASH_SETTING);
  }

  /**
   * Whether `presented` is the stored manager token, compared in constant time. Read on every
   * call, so a rotation takes effect at once in every server on this db.
   */
  matchesStoredManagerToken(presented: string | undefined): boolean {
    const stored = this.managerTokenHash();
    return stored !== undefined && keyMatchesHash(presented, stored);
  }

  close(): void {
    this.db.close();
  }
}
