/**
 * Reading and locking a fleet's row and finding its releases: what the fleet, device and rollout
 * repositories all need inside their transactions, kept apart so none of them owns another.
 */
import type { ReleaseRef } from './api-types.js';
import { badInput, notFound } from './errors.js';
import { lockClause, type SqlExecutor } from './sql/database.js';

export interface FleetRow {
  id: number;
  name: string;
  provisioning_key_hash: string;
  target_release_id: number | null;
  rollout_id: number | null;
  rollout_check_at: string | null;
  created_at: string;
  app_id: number;
  app_uuid: string;
}

export const FLEET_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;
/** A commit prefix worth looking up: commits are 32 lower-case hex digits. */
const COMMIT_PREFIX = /^[0-9a-f]{7,32}$/;
/** Ids are 32-bit integers in both databases. */
const MAX_ID = 2 ** 31 - 1;

const FLEET_SELECT = `SELECT f.*, a.id AS app_id, a.uuid AS app_uuid
  FROM fleets f JOIN apps a ON a.fleet_id = f.id`;

export async function findFleet(tx: SqlExecutor, name: string): Promise<FleetRow | undefined> {
  // A name no fleet can have is not looked up (nor handed to the database, NULs and all).
  if (!FLEET_NAME.test(name)) return undefined;
  return tx.get<FleetRow>(`${FLEET_SELECT} WHERE f.name = ?`, [name]);
}

/**
 * Locks the fleet's row for the rest of the transaction and returns it as it is now:
 * `update` for fleet-wide changes, `share` for a change to one of its devices (several of
 * those may run at once; none while a fleet-wide change does).
 */
export async function lockFleet(
  tx: SqlExecutor,
  name: string,
  mode: 'update' | 'share' = 'update',
): Promise<FleetRow> {
  if (!FLEET_NAME.test(name)) throw notFound(`unknown fleet "${name}"`);
  const row = await tx.get<FleetRow>(`${FLEET_SELECT} WHERE f.name = ?${lockClause(tx, 'f', mode)}`, [name]);
  if (!row) throw notFound(`unknown fleet "${name}"`);
  return row;
}

/** As lockFleet, by id (a fleet found through one of its devices). */
export async function lockFleetById(tx: SqlExecutor, id: number): Promise<FleetRow | undefined> {
  return tx.get<FleetRow>(`${FLEET_SELECT} WHERE f.id = ?${lockClause(tx, 'f')}`, [id]);
}

interface ReleaseRow {
  id: number;
  commit_uuid: string;
}

/**
 * Finds a release of the app by numeric id, full commit, or a unique commit prefix (7+ chars).
 * A ref of digits can be either (a hex commit may start with 7 or more decimal digits), so
 * both lookups run and the ref must name exactly one release.
 */
export async function resolveRelease(tx: SqlExecutor, appId: number, ref: string): Promise<ReleaseRef> {
  const id = /^\d{1,10}$/.test(ref) ? Number(ref) : undefined;
  const byId =
    id !== undefined && id <= MAX_ID
      ? await tx.all<ReleaseRow>('SELECT id, commit_uuid FROM releases WHERE app_id = ? AND id = ?', [
          appId,
          id,
        ])
      : [];
  const prefix = ref.toLowerCase();
  const byCommitPrefix = COMMIT_PREFIX.test(prefix)
    ? await tx.all<ReleaseRow>(
        'SELECT id, commit_uuid FROM releases WHERE app_id = ? AND commit_uuid LIKE ?',
        [appId, `${prefix}%`],
      )
    : [];
  const matches = new Map([...byId, ...byCommitPrefix].map((row) => [row.id, row]));
  const rows = [...matches.values()];
  if (rows.length > 1) throw badInput(`release "${ref}" is ambiguous: give more of the commit`);
  const row = rows[0];
  if (!row) throw notFound(`unknown release "${ref}" in this fleet`);
  return { id: row.id, commit: row.commit_uuid };
}

/** A release by id, as a reference; null for null. */
export async function releaseRef(tx: SqlExecutor, id: number | null): Promise<ReleaseRef | null> {
  if (id === null) return null;
  const row = await tx.get<ReleaseRow>('SELECT id, commit_uuid FROM releases WHERE id = ?', [id]);
  return row ? { id: row.id, commit: row.commit_uuid } : null;
}
