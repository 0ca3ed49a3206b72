import { randomUUID } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import type { CreatedFleet, FleetSummary, PushedRelease, ReleaseRef, ReleaseSummary } from './api-types.js';
import { generateKey, hashKey } from './auth.js';
import type { ComposeSpec } from './compose.js';
import { badInput, conflict, notFound } from './errors.js';
import { checkRelease } from './release-check.js';
import type { V3Release } from './target-document.js';
import { toRecord, type TargetWriter } from './target-writer.js';

export interface FleetRow {
  id: number;
  name: string;
  provisioning_key_hash: string;
  target_release_id: number | null;
  created_at: string;
  app_id: number;
  app_uuid: string;
}

const FLEET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
const CONFIG_KEY = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function checkConfigKey(key: string): void {
  if (!CONFIG_KEY.test(key)) throw badInput(`config key "${key}" must be letters, digits and "_"`);
}

/**
 * Fleets, their app, releases and fleet-wide config vars. A fleet has exactly one app; a release
 * commit is 32 random hex digits; service and image ids stay stable per service name and image
 * reference within a fleet. A device's own config vars override the fleet's (effectiveConfig).
 */
export class FleetRepository {
  private readonly byName: Statement<[string], FleetRow>;

  constructor(
    private readonly db: Database,
    private readonly targets: TargetWriter,
  ) {
    this.byName = db.prepare(`SELECT f.*, a.id AS app_id, a.uuid AS app_uuid
      FROM fleets f JOIN apps a ON a.fleet_id = f.id WHERE f.name = ?`);
  }

  /** The fleet, or a 404 naming it. */
  require(name: string): FleetRow {
    const row = this.byName.get(name);
    if (!row) throw notFound(`unknown fleet "${name}"`);
    return row;
  }

  find(name: string): FleetRow | undefined {
    return this.byName.get(name);
  }

  create(name: string, now = new Date()): CreatedFleet {
    if (!FLEET_NAME.test(name)) {
      throw badInput(`fleet name "${name}" must be 1-64 letters, digits, ".", "_" or "-"`);
    }
    const provisioningKey = generateKey();
    this.db.transaction(() => {
      if (this.byName.get(name)) throw conflict(`fleet "${name}" already exists`);
      const fleet = this.db
        .prepare('INSERT INTO fleets (name, provisioning_key_hash, created_at) VALUES (?, ?, ?)')
        .run(name, hashKey(provisioningKey), now.toISOString());
      this.db
        .prepare('INSERT INTO apps (uuid, fleet_id, name) VALUES (?, ?, ?)')
        .run(randomUUID().replaceAll('-', ''), fleet.lastInsertRowid, name);
    })();
    return { ...this.summary(this.require(name)), provisioningKey };
  }

  list(): FleetSummary[] {
    const rows = this.db
      .prepare(
        `SELECT f.*, a.id AS app_id, a.uuid AS app_uuid
        FROM fleets f JOIN apps a ON a.fleet_id = f.id ORDER BY f.name`,
      )
      .all() as FleetRow[];
    return rows.map((row) => this.summary(row));
  }

  private summary(row: FleetRow): FleetSummary {
    const { count } = this.db
      .prepare('SELECT COUNT(*) AS count FROM devices WHERE fleet_id = ?')
      .get(row.id) as { count: number };
    return {
      name: row.name,
      appId: row.app_id,
      appUuid: row.app_uuid,
      targetRelease: row.target_release_id === null ? null : this.releaseRef(row.target_release_id),
      deviceCount: count,
      createdAt: row.created_at,
    };
  }

  releaseRef(releaseId: number): ReleaseRef {
    const row = this.db.prepare('SELECT id, commit_uuid FROM releases WHERE id = ?').get(releaseId) as
      { id: number; commit_uuid: string } | undefined;
    if (!row) throw notFound(`unknown release ${releaseId}`);
    return { id: row.id, commit: row.commit_uuid };
  }

  /**
   * Builds a release from a compose spec, checks it with the device's validation, stores it and
   * makes it the fleet's target. Service and image ids are reused for names and refs the fleet
   * has seen before. A release the devices would reject is refused (ComposeError) and leaves
   * nothing behind; the warnings they would give are returned with the release.
   */
  createRelease(fleetName: string, spec: ComposeSpec, source: string, now = new Date()): PushedRelease {
    return this.db.transaction(() => {
      const fleet = this.require(fleetName);
      const commit = randomUUID().replaceAll('-', '');
      const inserted = this.db
        .prepare(
          `INSERT INTO releases (app_id, commit_uuid, compose_source, release_json, created_at)
          VALUES (?, ?, ?, '{}', ?)`,
        )
        .run(fleet.app_id, commit, source, now.toISOString());
      const releaseId = Number(inserted.lastInsertRowid);
      const services = Object.fromEntries(
        Object.entries(spec.services).map(([name, service]) => [
          name,
          {
            id: this.stableId('services', 'name', fleet.app_id, name),
            // A non-string image fails the check below, which rolls this insert back.
            image_id: this.stableId('images', 'ref', fleet.app_id, String(service.image)),
            image: service.image,
            environment: service.environment,
            labels: service.labels,
            running: true,
            composition: service.composition,
          },
        ]),
      );
      const draft = { id: releaseId, services, volumes: spec.volumes, networks: spec.networks };
      // The exact release devices will be served: checked here, inside the transaction, so a
      // rejected one (the throw rolls everything back) is never stored or served.
      const warnings = checkRelease(commit, draft, spec.locate);
      // The device's validation accepted it, so it has the v3 shape.
      const body = draft as V3Release;
      this.db
        .prepare('UPDATE releases SET release_json = ? WHERE id = ?')
        .run(JSON.stringify(body), releaseId);
      this.makeTarget(fleet.id, releaseId);
      return { ...releaseSummary(fleetName, releaseId, commit, now.toISOString(), body), warnings };
    })();
  }

  /**
   * Makes an existing release the fleet's target again: a roll-back to an earlier release (or
   * forward again). Pinned devices stay on their pins.
   */
  setTargetRelease(fleetName: string, ref: string): ReleaseRef {
    return this.db.transaction(() => {
      const fleet = this.require(fleetName);
      const release = this.resolveRelease(fleet.app_id, ref);
      this.makeTarget(fleet.id, release.id);
      return release;
    })();
  }

  private makeTarget(fleetId: number, releaseId: number): void {
    this.db.prepare('UPDATE fleets SET target_release_id = ? WHERE id = ?').run(releaseId, fleetId);
    this.targets.recomputeFleet(fleetId);
  }

  private stableId(
    table: 'services' | 'images',
    column: 'name' | 'ref',
    appId: number,
    value: string,
  ): number {
    this.db.prepare(`INSERT OR IGNORE INTO ${table} (app_id, ${column}) VALUES (?, ?)`).run(appId, value);
    const row = this.db
      .prepare(`SELECT id FROM ${table} WHERE app_id = ? AND ${column} = ?`)
      .get(appId, value);
    return (row as { id: number }).id;
  }

  listReleases(fleetName: string): ReleaseSummary[] {
    const fleet = this.require(fleetName);
    const rows = this.db
      .prepare('SELECT id, commit_uuid, release_json, created_at FROM releases WHERE app_id = ? ORDER BY id')
      .all(fleet.app_id) as Array<{
      id: number;
      commit_uuid: string;
      release_json: string;
      created_at: string;
    }>;
    return rows.map((row) =>
      releaseSummary(fleetName, row.id, row.commit_uuid, row.created_at, JSON.parse(row.release_json)),
    );
  }

  /**
   * Finds a release of the app by numeric id, full commit, or a unique commit prefix (7+ chars).
   * A ref of digits can be either (a hex commit may start with 7 or more decimal digits), so
   * both lookups run and the ref must name exactly one release.
   */
  resolveRelease(appId: number, ref: string): ReleaseRef {
    const byId = /^\d+$/.test(ref)
      ? this.db
          .prepare('SELECT id, commit_uuid FROM releases WHERE app_id = ? AND id = ?')
          .all(appId, Number(ref))
      : [];
    const byCommitPrefix =
      ref.length >= 7
        ? this.db
            .prepare("SELECT id, commit_uuid FROM releases WHERE app_id = ? AND commit_uuid LIKE ? || '%'")
            .all(appId, ref.toLowerCase().replace(/[%_]/g, ''))
        : [];
    const matches = new Map(
      ([...byId, ...byCommitPrefix] as Array<{ id: number; commit_uuid: string }>).map((row) => [
        row.id,
        row,
      ]),
    );
    const rows = [...matches.values()];
    if (rows.length > 1) throw badInput(`release "${ref}" is ambiguous: give more of the commit`);
    const row = rows[0];
    if (!row) throw notFound(`unknown release "${ref}" in this fleet`);
    return { id: row.id, commit: row.commit_uuid };
  }

  config(fleetName: string): Record<string, string> {
    const fleet = this.require(fleetName);
    return toRecord(
      this.db
        .prepare('SELECT key, value FROM fleet_config WHERE fleet_id = ? ORDER BY key')
        .all(fleet.id) as Array<{ key: string; value: string }>,
    );
  }

  setConfig(fleetName: string, key: string, value: string): void {
    checkConfigKey(key);
    this.db.transaction(() => {
      const fleet = this.require(fleetName);
      this.db
        .prepare(
          'INSERT INTO fleet_config (fleet_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
        )
        .run(fleet.id, key, value);
      this.targets.recomputeFleet(fleet.id);
    })();
  }

  /** Removes a fleet config var; false when it was not set. */
  unsetConfig(fleetName: string, key: string): boolean {
    return this.db.transaction(() => {
      const fleet = this.require(fleetName);
      const result = this.db
        .prepare('DELETE FROM fleet_config WHERE fleet_id = ? AND key = ?')
        .run(fleet.id, key);
      if (result.changes > 0) this.targets.recomputeFleet(fleet.id);
      return result.changes > 0;
    })();
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
