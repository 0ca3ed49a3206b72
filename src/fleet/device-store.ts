import type { Database, Statement } from 'better-sqlite3';
import type { ConfigView, DeviceView, RegisteredDevice, ReleaseRef } from './api-types.js';
import { hashKey, keyMatchesHash } from './auth.js';
import { isPlainObject } from './compose-values.js';
import { deepMerge } from './deep-merge.js';
import { deviceView } from './device-view.js';
import { badInput, conflict, notFound, unauthorized } from './errors.js';
import { checkConfigKey, type FleetRepository } from './fleet-store.js';
import { checkMergedReport, checkReportDepth } from './report-limits.js';
import { effectiveConfig } from './target-document.js';
import { toRecord, type TargetWriter } from './target-writer.js';

export interface RegisterInput {
  uuid: string;
  fleet: string;
  deviceApiKey: string;
  name?: string;
}

interface DeviceRow {
  id: number;
  uuid: string;
  fleet_id: number;
  name: string;
  key_hash: string;
  pinned_release_id: number | null;
  registered_at: string;
  last_seen: string | null;
  report_json: string;
}

/** What a poll needs: one indexed read of small columns. */
export interface PollRow {
  key_hash: string;
  target_etag: string;
}

const DEVICE_UUID = /^[A-Za-z0-9-]{8,128}$/;

/** Devices: registration, their target documents, reports, pins and config overrides. */
export class DeviceRepository {
  private readonly pollRow: Statement<[string], PollRow>;
  private readonly targetRow: Statement<[string], PollRow & { target_json: string }>;
  private readonly byUuid: Statement<[string], DeviceRow>;

  constructor(
    private readonly db: Database,
    private readonly fleets: FleetRepository,
    private readonly targets: TargetWriter,
  ) {
    this.pollRow = db.prepare('SELECT key_hash, target_etag FROM devices WHERE uuid = ?');
    this.targetRow = db.prepare('SELECT key_hash, target_etag, target_json FROM devices WHERE uuid = ?');
    this.byUuid = db.prepare('SELECT * FROM devices WHERE uuid = ?');
  }

  /**
   * Registers a device with its fleet's provisioning key. Idempotent: the same uuid with the same
   * device key answers `created: false`; another key for a known uuid is a conflict.
   */
  register(input: RegisterInput, provisioningKey: string | undefined, now = new Date()) {
    if (!DEVICE_UUID.test(input.uuid)) throw badInput('uuid must be 8-128 letters, digits or "-"');
    if (input.deviceApiKey.length < 8) throw badInput('deviceApiKey must be at least 8 characters');
    const fleet = this.fleets.find(input.fleet);
    if (!fleet || !keyMatchesHash(provisioningKey, fleet.provisioning_key_hash)) {
      throw unauthorized('unknown fleet or wrong provisioning key');
    }
    return this.db.transaction((): { created: boolean; device: RegisteredDevice } => {
      const existing = this.byUuid.get(input.uuid);
      if (existing) {
        if (existing.fleet_id !== fleet.id || !keyMatchesHash(input.deviceApiKey, existing.key_hash)) {
          // A wrong device key for a known uuid: counted like any failed authentication.
          throw conflict(`device ${input.uuid} is already registered with another key or fleet`, {
            failedAuthentication: true,
          });
        }
        return { created: false, device: { id: existing.id, uuid: existing.uuid, fleet: fleet.name } };
      }
      const inserted = this.db
        .prepare(
          `INSERT INTO devices (uuid, fleet_id, name, key_hash, registered_at, target_json, target_etag)
          VALUES (?, ?, ?, ?, ?, '', '')`,
        )
        .run(
          input.uuid,
          fleet.id,
          input.name ?? input.uuid.slice(0, 7),
          hashKey(input.deviceApiKey),
          now.toISOString(),
        );
      const id = Number(inserted.lastInsertRowid);
      this.targets.recomputeDevice(id);
      return { created: true, device: { id, uuid: input.uuid, fleet: fleet.name } };
    })();
  }

  /** The hot path of a conditional poll; undefined for an unknown uuid. */
  pollState(uuid: string): PollRow | undefined {
    return this.pollRow.get(uuid);
  }

  target(uuid: string): (PollRow & { target_json: string }) | undefined {
    return this.targetRow.get(uuid);
  }

  /**
   * Deep-merges a report body `{ "<uuid>": partial }` into each device's stored report. Every
   * uuid in the body must be a device the presented key belongs to, and every merged report
   * must stay within the report limits; else nothing of the body is stored. A null value removes
   * its key (deep-merge.ts). LAST SEEN is set here only: a poll (a 304 writes nothing) and
   * registration leave it as it is.
   */
  mergeReports(body: unknown, deviceKey: string | undefined, now = new Date()): void {
    if (!isPlainObject(body) || Object.keys(body).length === 0) {
      throw badInput('body must be { "<device uuid>": { ...report } }');
    }
    this.db.transaction(() => {
      for (const [uuid, partial] of Object.entries(body)) {
        const device = this.byUuid.get(uuid);
        if (!device || !keyMatchesHash(deviceKey, device.key_hash)) throw unauthorized();
        if (!isPlainObject(partial)) throw badInput(`report of ${uuid} must be an object`);
        checkReportDepth(uuid, partial);
        const merged = deepMerge(JSON.parse(device.report_json), partial) as Record<string, unknown>;
        const json = JSON.stringify(merged);
        checkMergedReport(uuid, merged, json);
        this.db
          .prepare('UPDATE devices SET report_json = ?, last_seen = ? WHERE id = ?')
          .run(json, now.toISOString(), device.id);
      }
    })();
  }

  private require(uuid: string): DeviceRow {
    const device = this.byUuid.get(uuid);
    if (!device) throw notFound(`unknown device "${uuid}"`);
    return device;
  }

  /** Keeps the device on one release of its fleet, whatever the fleet's target becomes. */
  pin(uuid: string, releaseRef: string): ReleaseRef {
    return this.db.transaction(() => {
      const device = this.require(uuid);
      const fleet = this.fleetOf(device);
      const release = this.fleets.resolveRelease(fleet.app_id, releaseRef);
      this.db.prepare('UPDATE devices SET pinned_release_id = ? WHERE id = ?').run(release.id, device.id);
      this.targets.recomputeDevice(device.id);
      return release;
    })();
  }

  unpin(uuid: string): void {
    this.db.transaction(() => {
      const device = this.require(uuid);
      this.db.prepare('UPDATE devices SET pinned_release_id = NULL WHERE id = ?').run(device.id);
      this.targets.recomputeDevice(device.id);
    })();
  }

  config(uuid: string): ConfigView {
    const device = this.require(uuid);
    const fleet = this.fleets.config(this.fleetOf(device).name);
    const own = toRecord(
      this.db
        .prepare('SELECT key, value FROM device_config WHERE device_id = ? ORDER BY key')
        .all(device.id) as Array<{
        key: string;
        value: string;
      }>,
    );
    return { fleet, device: own, effective: effectiveConfig(fleet, own) };
  }

  setConfig(uuid: string, key: string, value: string): void {
    checkConfigKey(key);
    this.db.transaction(() => {
      const device = this.require(uuid);
      this.db
        .prepare(
          'INSERT INTO device_config (device_id, key, value) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
        )
        .run(device.id, key, value);
      this.targets.recomputeDevice(device.id);
    })();
  }

  /** Removes a device override; false when it was not set. */
  unsetConfig(uuid: string, key: string): boolean {
    return this.db.transaction(() => {
      const device = this.require(uuid);
      const result = this.db
        .prepare('DELETE FROM device_config WHERE device_id = ? AND key = ?')
        .run(device.id, key);
      if (result.changes > 0) this.targets.recomputeDevice(device.id);
      return result.changes > 0;
    })();
  }

  /** Every device (of one fleet, if named), with what it should run and what it reports. */
  list(fleetName?: string): DeviceView[] {
    const fleetFilter = fleetName === undefined ? undefined : this.fleets.require(fleetName).id;
    const rows = this.db
      .prepare(
        `SELECT d.*, f.name AS fleet_name, a.uuid AS app_uuid,
           COALESCE(d.pinned_release_id, f.target_release_id) AS release_id,
           r.commit_uuid AS release_commit
         FROM devices d JOIN fleets f ON f.id = d.fleet_id JOIN apps a ON a.fleet_id = f.id
           LEFT JOIN releases r ON r.id = COALESCE(d.pinned_release_id, f.target_release_id)
         WHERE ? IS NULL OR d.fleet_id = ? ORDER BY f.name, d.name, d.uuid`,
      )
      .all(fleetFilter ?? null, fleetFilter ?? null) as Array<
      DeviceRow & {
        fleet_name: string;
        app_uuid: string;
        release_id: number | null;
        release_commit: string | null;
      }
    >;
    return rows.map((row) =>
      deviceView({
        uuid: row.uuid,
        name: row.name,
        fleet: row.fleet_name,
        appUuid: row.app_uuid,
        targetRelease:
          row.release_id === null || row.release_commit === null
            ? null
            : { id: row.release_id, commit: row.release_commit },
        pinned: row.pinned_release_id !== null,
        report: JSON.parse(row.report_json),
        lastSeen: row.last_seen,
        registeredAt: row.registered_at,
      }),
    );
  }

  private fleetOf(device: DeviceRow) {
    const row = this.db.prepare('SELECT name FROM fleets WHERE id = ?').get(device.fleet_id) as {
      name: string;
    };
    return this.fleets.require(row.name);
  }
}
