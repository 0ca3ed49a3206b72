import type { SqlExecutor } from './sql/database.js';
import {
  buildTargetDocument,
  effectiveConfig,
  type StoredTarget,
  type V3Release,
} from './target-document.js';

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

interface ConfigRow {
  key: string;
  value: string;
}

const DEVICE_TARGET_SELECT = `
  SELECT d.id, d.uuid, d.name, d.fleet_id,
         COALESCE(d.pinned_release_id, d.assigned_release_id, f.target_release_id) AS release_id,
         a.id AS app_id, a.uuid AS app_uuid, a.name AS app_name
  FROM devices d JOIN fleets f ON f.id = d.fleet_id JOIN apps a ON a.fleet_id = f.id`;

/** Rows written by one UPDATE on PostgreSQL: three parameters each, well under its 65535. */
const POSTGRES_BATCH = 500;

/**
 * Recomputes and stores devices' target documents and ETags. Called inside the transaction of
 * every change that affects a target (rollout wave, pin, config, registration), after that transaction
 * has locked the fleet's row, so a poll only reads and no two backends write one target from
 * different views of the fleet.
 */
export class TargetWriter {
  async recomputeDevice(tx: SqlExecutor, deviceId: number): Promise<void> {
    const row = await tx.get<DeviceTargetRow>(`${DEVICE_TARGET_SELECT} WHERE d.id = ?`, [deviceId]);
    if (!row) return;
    const deviceConfig = await tx.all<ConfigRow>('SELECT key, value FROM device_config WHERE device_id = ?', [
      deviceId,
    ]);
    await this.recompute(tx, row.fleet_id, [row], new Map([[deviceId, deviceConfig]]));
  }

  async recomputeFleet(tx: SqlExecutor, fleetId: number): Promise<void> {
    const rows = await tx.all<DeviceTargetRow>(`${DEVICE_TARGET_SELECT} WHERE d.fleet_id = ?`, [fleetId]);
    if (rows.length === 0) return;
    const deviceConfigs = new Map<number, ConfigRow[]>();
    const configRows = await tx.all<ConfigRow & { device_id: number }>(
      `SELECT c.device_id, c.key, c.value FROM device_config c JOIN devices d ON d.id = c.device_id
       WHERE d.fleet_id = ?`,
      [fleetId],
    );
    for (const { device_id, key, value } of configRows) {
      const list = deviceConfigs.get(device_id) ?? [];
      list.push({ key, value });
      deviceConfigs.set(device_id, list);
    }
    await this.recompute(tx, fleetId, rows, deviceConfigs);
  }

  private async recompute(
    tx: SqlExecutor,
    fleetId: number,
    rows: DeviceTargetRow[],
    deviceConfigs: Map<number, ConfigRow[]>,
  ): Promise<void> {
    const fleetConfig = toRecord(
      await tx.all<ConfigRow>('SELECT key, value FROM fleet_config WHERE fleet_id = ?', [fleetId]),
    );
    // Rows of one fleet usually share a release: read each once.
    const releases = new Map<number, { commit: string; body: V3Release } | undefined>();
    const targets: Array<{ id: number; target: StoredTarget }> = [];
    for (const row of rows) {
      if (row.release_id !== null && !releases.has(row.release_id)) {
        const stored = await tx.get<{ commit_uuid: string; release_json: string }>(
          'SELECT commit_uuid, release_json FROM releases WHERE id = ?',
          [row.release_id],
        );
        releases.set(
          row.release_id,
          stored && { commit: stored.commit_uuid, body: JSON.parse(stored.release_json) as V3Release },
        );
      }
      const target = buildTargetDocument({
        deviceUuid: row.uuid,
        deviceName: row.name,
        config: effectiveConfig(fleetConfig, toRecord(deviceConfigs.get(row.id) ?? [])),
        app: { id: row.app_id, uuid: row.app_uuid, name: row.app_name },
        release: row.release_id === null ? undefined : releases.get(row.release_id),
      });
      targets.push({ id: row.id, target });
    }
    await storeTargets(tx, targets);
  }
}

/**
 * SQLite updates row by row (each a synchronous call on a prepared statement); PostgreSQL, where
 * each statement is a round trip, in batches of one UPDATE ... FROM (VALUES ...).
 */
async function storeTargets(tx: SqlExecutor, targets: Array<{ id: number; target: StoredTarget }>) {
  if (tx.dialect === 'sqlite') {
    for (const { id, target } of targets) {
      await tx.run('UPDATE devices SET target_json = ?, target_etag = ? WHERE id = ?', [
        target.json,
        target.etag,
        id,
      ]);
    }
    return;
  }
  for (let start = 0; start < targets.length; start += POSTGRES_BATCH) {
    const batch = targets.slice(start, start + POSTGRES_BATCH);
    await tx.run(
      `UPDATE devices AS d SET target_json = v.json, target_etag = v.etag
       FROM (VALUES ${batch.map(() => '(CAST(? AS INTEGER), ?, ?)').join(', ')}) AS v (id, json, etag)
       WHERE d.id = v.id`,
      batch.flatMap(({ id, target }) => [id, target.json, target.etag]),
    );
  }
}

export function toRecord(rows: Array<{ key: string; value: string }>): Record<string, string> {
  return Object.fromEntries(rows.map((row) => [row.key, row.value]));
}
