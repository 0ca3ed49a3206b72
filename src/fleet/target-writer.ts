import type { Database, Statement } from 'better-sqlite3';
import { buildTargetDocument, effectiveConfig, type V3Release } from './target-document.js';

interface DeviceTargetRow {
  id: number;
  uuid: string;
  name: string;
  fleet_id: number;
  release_id: number | null;
  app_id: number;
  app_uuid: string;
  app_name: string;
}

const DEVICE_TARGET_SELECT = `
  SELECT d.id, d.uuid, d.name, d.fleet_id,
         COALESCE(d.pinned_release_id, f.target_release_id) AS release_id,
         a.id AS app_id, a.uuid AS app_uuid, a.name AS app_name
  FROM devices d JOIN fleets f ON f.id = d.fleet_id JOIN apps a ON a.fleet_id = f.id`;

/**
 * Recomputes and stores devices' target documents and ETags. Called inside the transaction of
 * every change that affects a target (push, pin, config, registration), so a poll only reads.
 */
export class TargetWriter {
  private readonly deviceRow: Statement<[number], DeviceTargetRow>;
  private readonly fleetDeviceRows: Statement<[number], DeviceTargetRow>;
  private readonly releaseRow: Statement<[number], { commit_uuid: string; release_json: string }>;
  private readonly fleetConfigRows: Statement<[number], { key: string; value: string }>;
  private readonly deviceConfigRows: Statement<[number], { key: string; value: string }>;
  private readonly storeTarget: Statement<[string, string, number]>;

  constructor(db: Database) {
    this.deviceRow = db.prepare(`${DEVICE_TARGET_SELECT} WHERE d.id = ?`);
    this.fleetDeviceRows = db.prepare(`${DEVICE_TARGET_SELECT} WHERE d.fleet_id = ?`);
    this.releaseRow = db.prepare('SELECT commit_uuid, release_json FROM releases WHERE id = ?');
    this.fleetConfigRows = db.prepare('SELECT key, value FROM fleet_config WHERE fleet_id = ?');
    this.deviceConfigRows = db.prepare('SELECT key, value FROM device_config WHERE device_id = ?');
    this.storeTarget = db.prepare('UPDATE devices SET target_json = ?, target_etag = ? WHERE id = ?');
  }

  recomputeDevice(deviceId: number): void {
    const row = this.deviceRow.get(deviceId);
    if (row) this.recompute([row]);
  }

  recomputeFleet(fleetId: number): void {
    this.recompute(this.fleetDeviceRows.all(fleetId));
  }

  private recompute(rows: DeviceTargetRow[]): void {
    // Rows of one call usually share a fleet and a release: read those once.
    const fleetConfigs = new Map<number, Record<string, string>>();
    const releases = new Map<number, { commit: string; body: V3Release }>();
    for (const row of rows) {
      let fleetConfig = fleetConfigs.get(row.fleet_id);
      if (!fleetConfig) {
        fleetConfig = toRecord(this.fleetConfigRows.all(row.fleet_id));
        fleetConfigs.set(row.fleet_id, fleetConfig);
      }
      let release = row.release_id === null ? undefined : releases.get(row.release_id);
      if (row.release_id !== null && !release) {
        const stored = this.releaseRow.get(row.release_id);
        if (stored) {
          release = { commit: stored.commit_uuid, body: JSON.parse(stored.release_json) as V3Release };
          releases.set(row.release_id, release);
        }
      }
      const target = buildTargetDocument({
        deviceUuid: row.uuid,
        deviceName: row.name,
        config: effectiveConfig(fleetConfig, toRecord(this.deviceConfigRows.all(row.id))),
        app: { id: row.app_id, uuid: row.app_uuid, name: row.app_name },
        release,
      });
      this.storeTarget.run(target.json, target.etag, row.id);
    }
  }
}

export function toRecord(rows: Array<{ key: string; value: string }>): Record<string, string> {
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}
