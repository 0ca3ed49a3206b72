import { generateKey, hashKey, keyMatchesHash } from './auth.js';
import { DeviceRepository } from './device-store.js';
import { FleetRepository } from './fleet-store.js';
import { DeviceLogRepository } from './log-store.js';
import { MANAGER_TOKEN_HASH_SETTING } from './migrations.js';
import { openFleetDatabase, type OpenDatabaseOptions } from './open-database.js';
import { RolloutRepository } from './rollout-store.js';
import type { SqlDatabase } from './sql/database.js';
import { TargetWriter } from './target-writer.js';

export type TokenSource = 'option' | 'stored' | 'generated';

export interface FleetStoreOptions {
  /** Log lines kept per device; default 10000 (tests use fewer). */
  logLinesPerDevice?: number;
}

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
 * Everything the fleet backend keeps, in one database: a SQLite file, or PostgreSQL shared by
 * several backends. The server holds no other state, so a restart (or another backend on the
 * same PostgreSQL database) serves the same fleets, devices, targets and ETags.
 */
export class FleetStore {
  readonly fleets: FleetRepository;
  readonly devices: DeviceRepository;
  readonly rollouts: RolloutRepository;
  readonly logs: DeviceLogRepository;

  constructor(
    readonly db: SqlDatabase,
    options: FleetStoreOptions = {},
  ) {
    const targets = new TargetWriter();
    this.rollouts = new RolloutRepository(db, targets);
    this.fleets = new FleetRepository(db, targets, this.rollouts);
    this.devices = new DeviceRepository(db, this.fleets, targets, this.rollouts);
    this.logs = new DeviceLogRepository(db, options.logLinesPerDevice);
  }

  /** Opens (and migrates) a SQLite file or, for a postgres:// URL, a PostgreSQL database. */
  static async open(
    location: string,
    options?: OpenDatabaseOptions & FleetStoreOptions,
  ): Promise<FleetStore> {
    return new FleetStore(await openFleetDatabase(location, options), options);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = await this.db.get<{ value: string }>('SELECT value FROM settings WHERE key = ?', [key]);
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.run(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }

  /**
   * The token given, else the one an earlier start stored (as a hash), else a new one: its hash
   * is stored and the token returned, the only time it exists in plain text. When two servers
   * start on one new db at once, the first to store wins and the other reports it as stored.
   */
  async setUpManagerToken(given: string | undefined): Promise<ManagerTokenSetup> {
    if (given) return { source: 'option', token: given };
    if ((await this.managerTokenHash()) !== undefined) return { source: 'stored' };
    const token = generateKey();
    const stored = await this.db.get<{ key: string }>(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING RETURNING key',
      [MANAGER_TOKEN_HASH_SETTING, hashKey(token)],
    );
    return stored ? { source: 'generated', token } : { source: 'stored' };
  }

  /** Replaces the stored manager token with a new one (for `bosun fleet token --rotate`). */
  async rotateManagerToken(): Promise<string> {
    const token = generateKey();
    await this.setSetting(MANAGER_TOKEN_HASH_SETTING, hashKey(token));
    return token;
  }

  managerTokenHash(): Promise<string | undefined> {
    return this.getSetting(MANAGER_TOKEN_HASH_SETTING);
  }

  /**
   * Whether `presented` is the stored manager token, compared in constant time. Read on every
   * call, so a rotation takes effect at once in every server on this db.
   */
  async matchesStoredManagerToken(presented: string | undefined): Promise<boolean> {
    const stored = await this.managerTokenHash();
    return stored !== undefined && keyMatchesHash(presented, stored);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
