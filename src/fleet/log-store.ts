import type { DeviceLogEntry } from './api-types.js';
import { keyMatchesHash } from './auth.js';
import { badInput, notFound, unauthorized } from './errors.js';
import type { StoredLogInput } from './log-batch.js';
import { lockClause, type SqlDatabase, type SqlExecutor } from './sql/database.js';

/** Lines kept per device (contract section 12): older ones go as new ones come in. */
export const DEFAULT_LOG_LINES_PER_DEVICE = 10_000;
/** Lines one read answers at most. */
export const MAX_LOG_READ_LINES = 10_000;

const DEVICE_UUID = /^[A-Za-z0-9-]{8,128}$/;
const DEVICE_REF = /^[A-Za-z0-9-]{1,128}$/;

interface LogRow {
  id: number | string;
  at_ms: number | string;
  service_name: string | null;
  is_stderr: number;
  is_system: number;
  message: string;
}

const COLUMNS = 'id, at_ms, service_name, is_stderr, is_system, message';

/** A device a manager named: its row id and full uuid. */
export interface DeviceRef {
  id: number;
  uuid: string;
}

export interface LogQuery {
  /** Only this service's lines. */
  service?: string;
  /** How many lines at most. */
  limit: number;
}

/**
 * Device logs: a device appends batches with its own key; the manager reads the newest lines,
 * or the lines after one it has seen (to follow). Each device keeps its last `linesPerDevice`
 * lines, trimmed in the transaction that appends, under the device's row lock, so two batches
 * of one device never interleave and ids grow in the order lines were stored.
 */
export class DeviceLogRepository {
  constructor(
    private readonly db: SqlDatabase,
    readonly linesPerDevice = DEFAULT_LOG_LINES_PER_DEVICE,
  ) {}

  /** Stores a batch of `uuid`'s lines, checked against its key; answers the device's row id. */
  append(uuid: string, deviceKey: string | undefined, lines: readonly StoredLogInput[]): Promise<number> {
    return this.db.transaction(async (tx) => {
      const device = DEVICE_UUID.test(uuid)
        ? await tx.get<{ id: number; key_hash: string }>(
            `SELECT d.id, d.key_hash FROM devices d WHERE d.uuid = ?${lockClause(tx, 'd')}`,
            [uuid],
          )
        : undefined;
      if (!device || !keyMatchesHash(deviceKey, device.key_hash)) throw unauthorized();
      const batch = JSON.stringify(
        lines.map((l) => ({
          t: l.timestamp,
          s: l.serviceName,
          e: l.isStderr ? 1 : 0,
          y: l.isSystem ? 1 : 0,
          m: l.message,
        })),
      );
      await tx.run(insertBatchSql(tx), [device.id, batch]);
      // Everything older than the newest `linesPerDevice` lines of this device goes.
      await tx.run(
        `DELETE FROM device_logs WHERE device_id = ? AND id <= (
           SELECT id FROM device_logs WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
        [device.id, device.id, this.linesPerDevice],
      );
      return device.id;
    });
  }

  /** A device by its uuid or a unique prefix of it: 404 when none, 400 when several match. */
  async resolve(ref: string): Promise<DeviceRef> {
    if (!DEVICE_REF.test(ref)) throw notFound(`unknown device "${ref}"`);
    const exact = await this.db.get<DeviceRef>('SELECT id, uuid FROM devices WHERE uuid = ?', [ref]);
    if (exact) return exact;
    const matches = await this.db.all<DeviceRef>(
      'SELECT id, uuid FROM devices WHERE substr(uuid, 1, ?) = ? ORDER BY id LIMIT 2',
      [ref.length, ref],
    );
    if (matches.length === 0) throw notFound(`unknown device "${ref}"`);
    if (matches.length > 1)
      throw badInput(`"${ref}" is the start of several devices' uuids: give more of it`);
    return matches[0]!;
  }

  /** The newest `limit` lines, oldest first. */
  async tail(device: DeviceRef, query: LogQuery): Promise<DeviceLogEntry[]> {
    const [filter, params] = serviceFilter(query.service);
    const rows = await this.db.all<LogRow>(
      `SELECT ${COLUMNS} FROM (
         SELECT ${COLUMNS} FROM device_logs WHERE device_id = ?${filter} ORDER BY id DESC LIMIT ?
       ) newest ORDER BY id`,
      [device.id, ...params, query.limit],
    );
    return rows.map(toEntry);
  }

  /** Up to `limit` lines stored after line `afterId`, oldest first. */
  async after(device: DeviceRef, afterId: number, query: LogQuery): Promise<DeviceLogEntry[]> {
    const [filter, params] = serviceFilter(query.service);
    const rows = await this.db.all<LogRow>(
      `SELECT ${COLUMNS} FROM device_logs WHERE device_id = ? AND id > ?${filter} ORDER BY id LIMIT ?`,
      [device.id, afterId, ...params, query.limit],
    );
    return rows.map(toEntry);
  }
}

/** One statement whatever the batch's size: the lines go in as one JSON array, in order. */
function insertBatchSql(tx: SqlExecutor): string {
  const into = 'INSERT INTO device_logs (device_id, at_ms, service_name, is_stderr, is_system, message)';
  if (tx.dialect === 'sqlite') {
    return `${into} SELECT ?, json_extract(value, '$.t'), json_extract(value, '$.s'),
      json_extract(value, '$.e'), json_extract(value, '$.y'), json_extract(value, '$.m')
      FROM json_each(?) ORDER BY key`;
  }
  return `${into} SELECT ?, (e->>'t')::bigint, e->>'s', (e->>'e')::smallint, (e->>'y')::smallint, e->>'m'
    FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS lines(e, n) ORDER BY n`;
}

function serviceFilter(service: string | undefined): [string, string[]] {
  return service === undefined ? ['', []] : [' AND service_name = ?', [service]];
}

function toEntry(row: LogRow): DeviceLogEntry {
  return {
    id: Number(row.id),
    timestamp: Number(row.at_ms),
    serviceName: row.service_name,
    isStderr: row.is_stderr === 1,
    isSystem: row.is_system === 1,
    message: row.message,
  };
}
