/**
 * Reading a rollout (rollout-store.ts writes it): its row, each wave's tally, the status view a
 * manager sees, and each device's wave for the device list.
 */
import type { DeviceRolloutView, RolloutFailureView, RolloutView, WaveView } from './api-types.js';
import { releaseRef } from './fleet-rows.js';
import type { DeviceOutcome, RolloutState, WaveTally } from './rollout-plan.js';
import type { SqlExecutor } from './sql/database.js';
import type { Tags } from './tags.js';

/** A row of `rollouts` (migration 4). */
export interface RolloutRow {
  id: number;
  fleet_id: number;
  release_id: number;
  previous_release_id: number | null;
  waves: string;
  wave_sizes: string;
  wave_wait_ms: number;
  max_failures: string;
  only_tags: string;
  state: RolloutState;
  reason: string | null;
  opened_waves: number;
  created_at: string;
  updated_at: string;
}

/** Failed devices a status lists by name; the counts cover the rest. */
const LISTED_FAILURES = 20;

export function waveSizes(rollout: RolloutRow): number[] {
  return JSON.parse(rollout.wave_sizes) as number[];
}

/** Each wave's devices and outcomes; a pinned device has left the rollout and is not counted. */
export async function waveTallies(tx: SqlExecutor, rolloutId: number, waves: number): Promise<WaveTally[]> {
  const tallies: WaveTally[] = Array.from({ length: waves }, () => ({
    devices: 0,
    done: 0,
    failed: 0,
    lastDoneAt: null,
  }));
  const rows = await tx.all<{
    wave: number;
    outcome: DeviceOutcome;
    count: number;
    last_done: string | null;
  }>(
    `SELECT rd.wave, rd.outcome, CAST(COUNT(*) AS INTEGER) AS count, MAX(rd.done_since) AS last_done
     FROM rollout_devices rd JOIN devices d ON d.id = rd.device_id
     WHERE rd.rollout_id = ? AND d.pinned_release_id IS NULL GROUP BY rd.wave, rd.outcome`,
    [rolloutId],
  );
  for (const row of rows) {
    const tally = tallies[row.wave];
    if (!tally) continue;
    tally.devices += row.count;
    if (row.outcome === 'failed') tally.failed += row.count;
    if (row.outcome === 'done') {
      tally.done += row.count;
      tally.lastDoneAt = row.last_done === null ? null : Date.parse(row.last_done);
    }
  }
  return tallies;
}

export async function rolloutView(
  ex: SqlExecutor,
  fleetName: string,
  rolloutId: number,
): Promise<RolloutView> {
  const rollout = (await ex.get<RolloutRow>('SELECT * FROM rollouts WHERE id = ?', [rolloutId]))!;
  const sizes = waveSizes(rollout);
  const tallies = await waveTallies(ex, rollout.id, sizes.length);
  const failures = await ex.all<{ uuid: string; wave: number; failure: string | null }>(
    `SELECT d.uuid, rd.wave, rd.failure FROM rollout_devices rd JOIN devices d ON d.id = rd.device_id
     WHERE rd.rollout_id = ? AND rd.outcome = 'failed' ORDER BY rd.position LIMIT ${LISTED_FAILURES}`,
    [rollout.id],
  );
  const fleet = await ex.get<{ rollout_check_at: string | null }>(
    'SELECT rollout_check_at FROM fleets WHERE rollout_id = ?',
    [rollout.id],
  );
  const waves: WaveView[] = tallies.map((tally, index) => ({
    wave: index + 1,
    size: sizes[index]! - (sizes[index - 1] ?? 0),
    devices: tally.devices,
    done: tally.done,
    failed: tally.failed,
    pending: tally.devices - tally.done - tally.failed,
    state:
      index >= rollout.opened_waves
        ? 'waiting'
        : tally.done + tally.failed < tally.devices
          ? 'open'
          : 'settled',
  }));
  return {
    id: rollout.id,
    fleet: fleetName,
    release: (await releaseRef(ex, rollout.release_id))!,
    previousRelease: await releaseRef(ex, rollout.previous_release_id),
    state: rollout.state,
    reason: rollout.reason,
    waveSpec: rollout.waves,
    waveWaitMs: rollout.wave_wait_ms,
    maxFailures: rollout.max_failures,
    only: JSON.parse(rollout.only_tags) as Tags,
    openedWaves: rollout.opened_waves,
    waves,
    failures: failures.map((row): RolloutFailureView => ({
      uuid: row.uuid,
      wave: row.wave + 1,
      reason: row.failure ?? 'failed',
    })),
    nextCheckAt: fleet?.rollout_check_at ?? null,
    createdAt: rollout.created_at,
    updatedAt: rollout.updated_at,
  };
}

/** Where each device of the fleets' current rollouts stands, by device id. */
export async function deviceWaves(
  db: SqlExecutor,
  fleetId: number | undefined,
): Promise<Map<number, DeviceRolloutView>> {
  const rows = await db.all<{
    device_id: number;
    rollout_id: number;
    wave: number;
    outcome: DeviceOutcome;
    opened_waves: number;
    wave_sizes: string;
  }>(
    `SELECT rd.device_id, ro.id AS rollout_id, rd.wave, rd.outcome, ro.opened_waves, ro.wave_sizes
     FROM fleets f JOIN rollouts ro ON ro.id = f.rollout_id JOIN rollout_devices rd ON rd.rollout_id = ro.id
     ${fleetId === undefined ? '' : 'WHERE f.id = ?'}`,
    fleetId === undefined ? [] : [fleetId],
  );
  const waveCounts = new Map<string, number>();
  return new Map(
    rows.map((row) => {
      let waves = waveCounts.get(row.wave_sizes);
      if (waves === undefined) {
        waves = (JSON.parse(row.wave_sizes) as number[]).length;
        waveCounts.set(row.wave_sizes, waves);
      }
      const view: DeviceRolloutView = {
        rolloutId: row.rollout_id,
        wave: row.wave + 1,
        waves,
        opened: row.wave < row.opened_waves,
        outcome: row.outcome,
      };
      return [row.device_id, view];
    }),
  );
}
