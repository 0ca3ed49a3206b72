import { randomUUID } from 'node:crypto';
import type {
  CreatedFleet,
  FleetSummary,
  PushedRelease,
  ReleaseRef,
  ReleaseSummary,
  RolloutRequest,
  RolloutView,
} from './api-types.js';
import { generateKey, hashKey } from './auth.js';
import type { ComposeSpec } from './compose.js';
import { badInput, conflict, notFound } from './errors.js';
import { FLEET_NAME, findFleet, lockFleet, resolveRelease, type FleetRow } from './fleet-rows.js';
import { checkRelease } from './release-check.js';
import { rolloutSettings, type RolloutRepository } from './rollout-store.js';
import { byteOrder, type SqlDatabase, type SqlExecutor } from './sql/database.js';
import type { V3Release } from './target-document.js';
import { toRecord, type TargetWriter } from './target-writer.js';

export type { FleetRow } from './fleet-rows.js';

const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function checkConfigKey(key: string): void {
  if (!CONFIG_KEY.test(key)) throw badInput(`config key "${key}" must be letters, digits and "_"`);
}

/** Whether `key` can be a config key at all (an unset of any other key finds nothing). */
export function isConfigKey(key: string): boolean {
  return CONFIG_KEY.test(key);
}

/** Config values are text; PostgreSQL text cannot hold a NUL character, so neither may they. */
export function checkConfigValue(key: string, value: string): void {
  if (value.includes('\0')) throw badInput(`config value of "${key}" must not contain a NUL character`);
}

/**
 * Fleets, their app, releases and fleet-wide config vars. A fleet has exactly one app; a release
 * commit is 32 random hex digits; service and image ids stay stable per service name and image
 * reference within a fleet. A device's own config vars override the fleet's (effectiveConfig).
 * Every change that affects devices' targets locks the fleet's row first (`lockFleet`), so that concurrent changes to one fleet,
 * through this backend or another on the same database, apply one after the other and each
 * recomputes targets from the other's committed result.
 */
export class FleetRepository {
  constructor(
    private readonly db: SqlDatabase,
    private readonly targets: TargetWriter,
    private readonly rollouts: RolloutRepository,
  ) {}

  /** The fleet, or a 404 naming it. */
  async require(name: string, tx: SqlExecutor = this.db): Promise<FleetRow> {
    const row = await this.find(name, tx);
    if (!row) throw notFound(`unknown fleet "${name}"`);
    return row;
  }

  find(name: string, tx: SqlExecutor = this.db): Promise<FleetRow | undefined> {
    return findFleet(tx, name);
  }

  /** See fleet-rows.ts: `update` for fleet-wide changes, `share` for a change to one device. */
  lockFleet(tx: SqlExecutor, name: string, mode: 'update' | 'share' = 'update'): Promise<FleetRow> {
    return lockFleet(tx, name, mode);
  }

  async create(name: string, now = new Date()): Promise<CreatedFleet> {
    if (!FLEET_NAME.test(name)) {
      throw badInput(`fleet name "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
    }
    const provisioningKey = generateKey();
    await this.db.transaction(async (tx) => {
      // The unique name decides between two backends creating the same fleet at once.
      const fleet = await tx.get<{ id: number }>(
        `INSERT INTO fleets (name, provisioning_key_hash, created_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO NOTHING RETURNING id`,
        [name, hashKey(provisioningKey), now.toISOString()],
      );
      if (!fleet) throw conflict(`fleet "${name}" already exists`);
      await tx.run('INSERT INTO apps (uuid, fleet_id, name) VALUES (?, ?, ?)', [
        randomUUID().replaceAll('-', ''),
        fleet.id,
        name,
      ]);
    });
    const [summary] = await this.summaries(name);
    if (!summary) throw notFound(`unknown fleet "${name}"`);
    return { ...summary, provisioningKey };
  }

  list(): Promise<FleetSummary[]> {
    return this.summaries();
  }

  /** One fleet's summary, or a 404. */
  async summary(name: string): Promise<FleetSummary> {
    const [summary] = FLEET_NAME.test(name) ? await this.summaries(name) : [];
    if (!summary) throw notFound(`unknown fleet "${name}"`);
    return summary;
  }

  private async summaries(name?: string): Promise<FleetSummary[]> {
    const rows = await this.db.all<{
      name: string;
      app_id: number;
      app_uuid: string;
      created_at: string;
      release_id: number | null;
      release_commit: string | null;
      device_count: number;
    }>(
      `SELECT f.name, f.created_at, a.id AS app_id, a.uuid AS app_uuid,
         r.id AS release_id, r.commit_uuid AS release_commit,
         CAST((SELECT COUNT(*) FROM devices d WHERE d.fleet_id = f.id) AS INTEGER) AS device_count
       FROM fleets f JOIN apps a ON a.fleet_id = f.id LEFT JOIN releases r ON r.id = f.target_release_id
       ${name === undefined ? '' : 'WHERE f.name = ?'} ORDER BY ${byteOrder(this.db, 'f.name')}`,
      name === undefined ? [] : [name],
    );
    return rows.map((row) => ({
      name: row.name,
      appId: row.app_id,
      appUuid: row.app_uuid,
      targetRelease:
        row.release_id === null || row.release_commit === null
          ? null
          : { id: row.release_id, commit: row.release_commit },
      deviceCount: row.device_count,
      createdAt: row.created_at,
    }));
  }

  /**
   * Builds a release from a compose spec, checks it with the device's validation, stores it and
   * rolls it out (rollout-store.ts): without a rollout request, to every unpinned device at once
   * as the fleet's target. Service and image ids are reused for names and refs the fleet has
   * seen before. A release the devices would reject, or a rollout that cannot start, is refused
   * and leaves nothing behind; the warnings devices would give are returned with the release.
   */
  async createRelease(
    fleetName: string,
    spec: ComposeSpec,
    source: string,
    now = new Date(),
    request?: RolloutRequest,
  ): Promise<PushedRelease> {
    if (source.includes('\0')) throw badInput('the compose file must not contain a NUL character');
    const settings = rolloutSettings(request);
    return this.db.transaction(async (tx) => {
      const fleet = await this.lockFleet(tx, fleetName);
      const commit = randomUUID().replaceAll('-', '');
      const inserted = await tx.get<{ id: number }>(
        `INSERT INTO releases (app_id, commit_uuid, compose_source, release_json, created_at)
        VALUES (?, ?, ?, '{}', ?) RETURNING id`,
        [fleet.app_id, commit, source, now.toISOString()],
      );
      const releaseId = inserted!.id;
      const entries: Array<[string, unknown]> = [];
      for (const [name, service] of Object.entries(spec.services)) {
        entries.push([
          name,
          {
            id: await this.stableId(tx, 'services', 'name', fleet.app_id, name),
            // A non-string image fails the check below, which rolls this insert back.
            image_id: await this.stableId(tx, 'images', 'ref', fleet.app_id, String(service.image)),
            image: service.image,
            environment: service.environment,
            labels: service.labels,
            running: true,
            composition: service.composition,
          },
        ]);
      }
      // fromEntries, not assignment: a service may be named __proto__.
      const services = Object.fromEntries(entries);
      const draft = { id: releaseId, services, volumes: spec.volumes, networks: spec.networks };
      // The exact release devices will be served: checked here, inside the transaction, so a
      // rejected one (the throw rolls everything back) is never stored or served.
      const warnings = checkRelease(commit, draft, spec.locate);
      // The device's validation accepted it, so it has the v3 shape.
      const body = draft as V3Release;
      await tx.run('UPDATE releases SET release_json = ? WHERE id = ?', [JSON.stringify(body), releaseId]);
      const rollout = await this.rollouts.start(tx, fleet, { id: releaseId, commit }, settings, now);
      return { ...releaseSummary(fleetName, releaseId, commit, now.toISOString(), body), warnings, rollout };
    });
  }

  /**
   * Rolls an existing release out again: without a rollout request, a roll-back (or forward) of
   * every unpinned device at once, as the fleet's target. Pinned devices stay on their pins.
   */
  setTargetRelease(
    fleetName: string,
    ref: string,
    request?: RolloutRequest,
    now = new Date(),
  ): Promise<{ release: ReleaseRef; rollout: RolloutView }> {
    const settings = rolloutSettings(request);
    return this.db.transaction(async (tx) => {
      const fleet = await this.lockFleet(tx, fleetName);
      const release = await this.resolveRelease(fleet.app_id, ref, tx);
      return { release, rollout: await this.rollouts.start(tx, fleet, release, settings, now) };
    });
  }

  private async stableId(
    tx: SqlExecutor,
    table: 'services' | 'images',
    column: 'name' | 'ref',
    appId: number,
    value: string,
  ): Promise<number> {
    if (value.includes('\0')) throw badInput(`${column} "${value}" must not contain a NUL character`);
    await tx.run(`INSERT INTO ${table} (app_id, ${column}) VALUES (?, ?) ON CONFLICT DO NOTHING`, [
      appId,
      value,
    ]);
    const row = await tx.get<{ id: number }>(`SELECT id FROM ${table} WHERE app_id = ? AND ${column} = ?`, [
      appId,
      value,
    ]);
    return row!.id;
  }

  async listReleases(fleetName: string): Promise<ReleaseSummary[]> {
    const fleet = await this.require(fleetName);
    const rows = await this.db.all<{
      id: number;
      commit_uuid: string;
      release_json: string;
      created_at: string;
    }>('SELECT id, commit_uuid, release_json, created_at FROM releases WHERE app_id = ? ORDER BY id', [
      fleet.app_id,
    ]);
    return rows.map((row) =>
      releaseSummary(fleetName, row.id, row.commit_uuid, row.created_at, JSON.parse(row.release_json)),
    );
  }

  /** By numeric id, full commit, or a unique commit prefix (fleet-rows.ts). */
  resolveRelease(appId: number, ref: string, tx: SqlExecutor = this.db): Promise<ReleaseRef> {
    return resolveRelease(tx, appId, ref);
  }

  async config(fleetName: string): Promise<Record<string, string>> {
    const fleet = await this.require(fleetName);
    return toRecord(
      await this.db.all<{ key: string; value: string }>(
        `SELECT key, value FROM fleet_config WHERE fleet_id = ? ORDER BY ${byteOrder(this.db, 'key')}`,
        [fleet.id],
      ),
    );
  }

  async setConfig(fleetName: string, key: string, value: string): Promise<void> {
    checkConfigKey(key);
    checkConfigValue(key, value);
    await this.db.transaction(async (tx) => {
      const fleet = await this.lockFleet(tx, fleetName);
      await tx.run(
        `INSERT INTO fleet_config (fleet_id, key, value) VALUES (?, ?, ?)
         ON CONFLICT (fleet_id, key) DO UPDATE SET value = excluded.value`,
        [fleet.id, key, value],
      );
      await this.targets.recomputeFleet(tx, fleet.id);
    });
  }

  /** Removes a fleet config var; false when it was not set. */
  async unsetConfig(fleetName: string, key: string): Promise<boolean> {
    if (!isConfigKey(key)) {
      await this.require(fleetName);
      return false;
    }
    return this.db.transaction(async (tx) => {
      const fleet = await this.lockFleet(tx, fleetName);
      const changes = await tx.run('DELETE FROM fleet_config WHERE fleet_id = ? AND key = ?', [
        fleet.id,
        key,
      ]);
      if (changes > 0) await this.targets.recomputeFleet(tx, fleet.id);
      return changes > 0;
    });
  }
}

function releaseSummary(
  fleet: string,
  id: number,
  commit: string,
  createdAt: string,
  body: V3Release,
): ReleaseSummary {
  const services = Object.fromEntries(
    Object.entries(body.services).map(([name, svc]) => [
      name,
      { id: svc.id, imageId: svc.image_id, image: svc.image },
    ]),
  );
  return { fleet, id, commit, createdAt, services };
}
