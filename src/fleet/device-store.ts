import type { ConfigView, DeviceView, RegisteredDevice, ReleaseRef } from './api-types.js';
import { hashKey, keyMatchesHash } from './auth.js';
import { isPlainObject } from './compose-values.js';
import { deepMerge } from './deep-merge.js';
import { deviceView } from './device-view.js';
import { badInput, conflict, notFound, unauthorized } from './errors.js';
import { checkConfigKey, checkConfigValue, isConfigKey, type FleetRepository } from './fleet-store.js';
import { checkMergedReport, checkReportDepth } from './report-limits.js';
import type { RolloutRepository } from './rollout-store.js';
import { byteOrder, lockClause, type SqlDatabase, type SqlExecutor } from './sql/database.js';
import { effectiveConfig } from './target-document.js';
import { MAX_TAGS, matchesTags, sortedTags, type TagPatch, type Tags } from './tags.js';
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
  assigned_release_id: number | null;
  registered_at: string;
  last_seen: string | null;
  report_json: string;
}

/** A device row with its fleet's name, as the changes to one device need it. */
type DeviceInFleet = DeviceRow & { fleet_name: string };

/** What a poll needs: one indexed read of small columns. */
export interface PollRow {
  key_hash: string;
  target_etag: string;
  fleet_id: number;
  /** When the fleet's rollout must be looked at again although no device reported (rollout-store.ts). */
  rollout_check_at: string | null;
}

const DEVICE_UUID = /^[A-Za-z0-9-]{8,128}$/;

const DEVICE_IN_FLEET = `SELECT d.*, f.name AS fleet_name FROM devices d JOIN fleets f ON f.id = d.fleet_id`;

/**
 * Devices: registration, their target documents, reports, pins and config overrides. A change
 * to one device's target locks its fleet's row for share (no fleet-wide change meanwhile) and
 * the device's row for update (one change to it at a time), in that order everywhere.
 */
export class DeviceRepository {
  constructor(
    private readonly db: SqlDatabase,
    private readonly fleets: FleetRepository,
    private readonly targets: TargetWriter,
    private readonly rollouts: RolloutRepository,
  ) {}

  /**
   * Registers a device with its fleet's provisioning key. Idempotent: the same uuid with the same
   * device key answers `created: false`; another key for a known uuid is a conflict.
   */
  async register(
    input: RegisterInput,
    provisioningKey: string | undefined,
    now = new Date(),
  ): Promise<{ created: boolean; device: RegisteredDevice }> {
    if (!DEVICE_UUID.test(input.uuid)) throw badInput('uuid must be 8-128 letters, digits or "-"');
    if (input.deviceApiKey.length < 8) throw badInput('deviceApiKey must be at least 8 characters');
    if (input.name?.includes('\0')) throw badInput('name must not contain a NUL character');
    const known = await this.fleets.find(input.fleet);
    if (!known || !keyMatchesHash(provisioningKey, known.provisioning_key_hash)) {
      throw unauthorized('unknown fleet or wrong provisioning key');
    }
    return this.db.transaction(async (tx) => {
      const fleet = await this.fleets.lockFleet(tx, known.name, 'share');
      // The unique uuid decides between two registrations of one device at once.
      const inserted = await tx.get<{ id: number }>(
        `INSERT INTO devices (uuid, fleet_id, name, key_hash, registered_at, target_json, target_etag)
        VALUES (?, ?, ?, ?, ?, '', '') ON CONFLICT (uuid) DO NOTHING RETURNING id`,
        [
          input.uuid,
          fleet.id,
          input.name ?? input.uuid.slice(0, 7),
          hashKey(input.deviceApiKey),
          now.toISOString(),
        ],
      );
      if (inserted) {
        await this.targets.recomputeDevice(tx, inserted.id);
        return { created: true, device: { id: inserted.id, uuid: input.uuid, fleet: fleet.name } };
      }
      const existing = await tx.get<DeviceRow>('SELECT * FROM devices WHERE uuid = ?', [input.uuid]);
      if (
        !existing ||
        existing.fleet_id !== fleet.id ||
        !keyMatchesHash(input.deviceApiKey, existing.key_hash)
      ) {
        // A wrong device key for a known uuid: counted like any failed authentication.
        throw conflict(`device ${input.uuid} is already registered with another key or fleet`, {
          failedAuthentication: true,
        });
      }
      return { created: false, device: { id: existing.id, uuid: existing.uuid, fleet: fleet.name } };
    });
  }

  /** The hot path of a conditional poll; undefined for an unknown uuid. */
  async pollState(uuid: string): Promise<PollRow | undefined> {
    if (!DEVICE_UUID.test(uuid)) return undefined;
    return this.db.get<PollRow>(
      `SELECT d.key_hash, d.target_etag, d.fleet_id, f.rollout_check_at
       FROM devices d JOIN fleets f ON f.id = d.fleet_id WHERE d.uuid = ?`,
      [uuid],
    );
  }

  async target(uuid: string): Promise<(PollRow & { target_json: string }) | undefined> {
    if (!DEVICE_UUID.test(uuid)) return undefined;
    return this.db.get('SELECT key_hash, target_etag, target_json FROM devices WHERE uuid = ?', [uuid]);
  }

  /**
   * Deep-merges a report body `{ "<uuid>": partial }` into each device's stored report. Every
   * uuid in the body must be a device the presented key belongs to, and every merged report
   * must stay within the report limits; else nothing of the body is stored. A null value removes
   * its key (deep-merge.ts). Each device's row is locked while its report is merged, so two
   * reports at once both land. LAST SEEN is set here only: a poll (a 304 writes nothing) and
   * registration leave it as it is. What a report says about the fleet's rollout is recorded in
   * the same transaction; the rollout then moves on (a wave opens, it halts) in one of its own.
   * Answers the ids of the fleets whose devices reported (for the dashboard's change feed).
   */
  async mergeReports(body: unknown, deviceKey: string | undefined, now = new Date()): Promise<number[]> {
    if (!isPlainObject(body) || Object.keys(body).length === 0) {
      throw badInput('body must be { "<device uuid>": { ...report } }');
    }
    // Locked in one order (sorted uuids), so two bodies naming the same devices cannot deadlock.
    const reports = Object.entries(body).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const rolloutsToAdvance = new Set<number>();
    const fleets = new Set<number>();
    await this.db.transaction(async (tx) => {
      rolloutsToAdvance.clear(); // a PostgreSQL transaction may run again
      fleets.clear();
      for (const [uuid, partial] of reports) {
        const device = DEVICE_UUID.test(uuid)
          ? await tx.get<DeviceRow>(`SELECT * FROM devices d WHERE uuid = ?${lockClause(tx, 'd')}`, [uuid])
          : undefined;
        if (!device || !keyMatchesHash(deviceKey, device.key_hash)) throw unauthorized();
        if (!isPlainObject(partial)) throw badInput(`report of ${uuid} must be an object`);
        checkReportDepth(uuid, partial);
        const merged = deepMerge(JSON.parse(device.report_json), partial) as Record<string, unknown>;
        const json = JSON.stringify(merged);
        checkMergedReport(uuid, merged, json);
        await tx.run('UPDATE devices SET report_json = ?, last_seen = ? WHERE id = ?', [
          json,
          now.toISOString(),
          device.id,
        ]);
        fleets.add(device.fleet_id);
        if (await this.rollouts.recordReport(tx, device.id, device.fleet_id, merged, now)) {
          rolloutsToAdvance.add(device.fleet_id);
        }
      }
    });
    for (const fleetId of rolloutsToAdvance) await this.rollouts.advanceFleet(fleetId, now);
    return [...fleets];
  }

  /** The id of the device's fleet; undefined for an unknown uuid. */
  async fleetIdOf(uuid: string): Promise<number | undefined> {
    if (!DEVICE_UUID.test(uuid)) return undefined;
    const row = await this.db.get<{ fleet_id: number }>('SELECT fleet_id FROM devices WHERE uuid = ?', [
      uuid,
    ]);
    return row?.fleet_id;
  }

  private async require(uuid: string, tx: SqlExecutor = this.db): Promise<DeviceInFleet> {
    const device = DEVICE_UUID.test(uuid)
      ? await tx.get<DeviceInFleet>(`${DEVICE_IN_FLEET} WHERE d.uuid = ?`, [uuid])
      : undefined;
    if (!device) throw notFound(`unknown device "${uuid}"`);
    return device;
  }

  /**
   * Runs a change to one device's target in a transaction, with its fleet locked for share and
   * its own row for update; the target is recomputed from the committed state of both.
   */
  private changeDevice<T>(uuid: string, change: (tx: SqlExecutor, device: DeviceInFleet) => Promise<T>) {
    return this.db.transaction(async (tx) => {
      const { fleet_name } = await this.require(uuid, tx);
      await this.fleets.lockFleet(tx, fleet_name, 'share');
      const device = await tx.get<DeviceInFleet>(
        `${DEVICE_IN_FLEET} WHERE d.uuid = ?${lockClause(tx, 'd')}`,
        [uuid],
      );
      // A device is never deleted, nor moved to another fleet: it is still there, in that fleet.
      const result = await change(tx, device!);
      await this.targets.recomputeDevice(tx, device!.id);
      return result;
    });
  }

  /** Keeps the device on one release of its fleet, whatever the fleet's target becomes. */
  pin(uuid: string, releaseRef: string): Promise<ReleaseRef> {
    return this.changeDevice(uuid, async (tx, device) => {
      const fleet = await this.fleets.require(device.fleet_name, tx);
      const release = await this.fleets.resolveRelease(fleet.app_id, releaseRef, tx);
      await tx.run('UPDATE devices SET pinned_release_id = ? WHERE id = ?', [release.id, device.id]);
      return release;
    });
  }

  async unpin(uuid: string): Promise<void> {
    await this.changeDevice(uuid, async (tx, device) => {
      await tx.run('UPDATE devices SET pinned_release_id = NULL WHERE id = ?', [device.id]);
    });
  }

  async config(uuid: string): Promise<ConfigView> {
    const device = await this.require(uuid);
    const fleet = await this.fleets.config(device.fleet_name);
    const own = toRecord(
      await this.db.all<{ key: string; value: string }>(
        `SELECT key, value FROM device_config WHERE device_id = ? ORDER BY ${byteOrder(this.db, 'key')}`,
        [device.id],
      ),
    );
    return { fleet, device: own, effective: effectiveConfig(fleet, own) };
  }

  async setConfig(uuid: string, key: string, value: string): Promise<void> {
    checkConfigKey(key);
    checkConfigValue(key, value);
    await this.changeDevice(uuid, async (tx, device) => {
      await tx.run(
        `INSERT INTO device_config (device_id, key, value) VALUES (?, ?, ?)
         ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value`,
        [device.id, key, value],
      );
    });
  }

  /** Removes a device override; false when it was not set. */
  async unsetConfig(uuid: string, key: string): Promise<boolean> {
    if (!isConfigKey(key)) {
      await this.require(uuid);
      return false;
    }
    return this.changeDevice(uuid, async (tx, device) => {
      const changes = await tx.run('DELETE FROM device_config WHERE device_id = ? AND key = ?', [
        device.id,
        key,
      ]);
      return changes > 0;
    });
  }

  /**
   * Every device (of one fleet, if named; with all the tags of `tagFilter`), with what it should
   * run, what it reports, its tags and its wave. Rollouts whose wave wait is over move on first.
   */
  async list(fleetName?: string, tagFilter: Tags = {}, now = new Date()): Promise<DeviceView[]> {
    const fleetFilter = fleetName === undefined ? undefined : (await this.fleets.require(fleetName)).id;
    await this.rollouts.advanceDue(now);
    const rows = await this.db.all<
      DeviceRow & {
        fleet_name: string;
        app_uuid: string;
        release_id: number | null;
        release_commit: string | null;
      }
    >(
      `SELECT d.*, f.name AS fleet_name, a.uuid AS app_uuid,
         COALESCE(d.pinned_release_id, d.assigned_release_id, f.target_release_id) AS release_id,
         r.commit_uuid AS release_commit
       FROM devices d JOIN fleets f ON f.id = d.fleet_id JOIN apps a ON a.fleet_id = f.id
         LEFT JOIN releases r ON r.id = COALESCE(d.pinned_release_id, d.assigned_release_id, f.target_release_id)
       ${fleetFilter === undefined ? '' : 'WHERE d.fleet_id = ?'} ORDER BY ${['f.name', 'd.name', 'd.uuid'].map((column) => byteOrder(this.db, column)).join(', ')}`,
      fleetFilter === undefined ? [] : [fleetFilter],
    );
    const tags = await this.tagsOf(fleetFilter);
    const waves = await this.rollouts.deviceWaves(fleetFilter);
    const tagged = rows.filter((row) => matchesTags(tags.get(row.id) ?? {}, tagFilter));
    return tagged.map((row) =>
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
        tags: tags.get(row.id) ?? {},
        rollout: waves.get(row.id) ?? null,
      }),
    );
  }

  /** The device's tags, in key order. */
  async tags(uuid: string): Promise<Tags> {
    const device = await this.require(uuid);
    return (await this.tagsOf(device.fleet_id, device.id)).get(device.id) ?? {};
  }

  /**
   * Sets and removes tags of one device (its row locked meanwhile); answers its tags after.
   * Tags do not change what a device runs, so no target is recomputed.
   */
  async changeTags(uuid: string, patch: TagPatch): Promise<Tags> {
    const deviceId = await this.db.transaction(async (tx) => {
      const { id } = await this.require(uuid, tx);
      await tx.get(`SELECT d.id FROM devices d WHERE d.id = ?${lockClause(tx, 'd')}`, [id]);
      for (const key of patch.remove) {
        await tx.run('DELETE FROM device_tags WHERE device_id = ? AND key = ?', [id, key]);
      }
      for (const [key, value] of Object.entries(patch.set)) {
        await tx.run(
          `INSERT INTO device_tags (device_id, key, value) VALUES (?, ?, ?)
           ON CONFLICT (device_id, key) DO UPDATE SET value = excluded.value`,
          [id, key, value],
        );
      }
      const count = await tx.get<{ n: number }>(
        'SELECT CAST(COUNT(*) AS INTEGER) AS n FROM device_tags WHERE device_id = ?',
        [id],
      );
      if ((count?.n ?? 0) > MAX_TAGS) throw badInput(`a device carries at most ${MAX_TAGS} tags`);
      return id;
    });
    return (await this.tagsOf(undefined, deviceId)).get(deviceId) ?? {};
  }

  /** Tags by device id: of one device, of one fleet's devices, or of all. */
  private async tagsOf(fleetId?: number, deviceId?: number): Promise<Map<number, Tags>> {
    const where =
      deviceId !== undefined ? 'WHERE t.device_id = ?' : fleetId !== undefined ? 'WHERE d.fleet_id = ?' : '';
    const rows = await this.db.all<{ device_id: number; key: string; value: string }>(
      `SELECT t.device_id, t.key, t.value FROM device_tags t JOIN devices d ON d.id = t.device_id ${where}`,
      deviceId !== undefined ? [deviceId] : fleetId !== undefined ? [fleetId] : [],
    );
    const entries = new Map<number, Array<[string, string]>>();
    for (const row of rows) {
      const list = entries.get(row.device_id) ?? [];
      list.push([row.key, row.value]);
      entries.set(row.device_id, list);
    }
    return new Map([...entries].map(([id, list]) => [id, sortedTags(list)]));
  }
}
