/**
 * The rollout benchmark's view of the fleet, read from the backend's database directly (a
 * read-only SQLite connection, or one PostgreSQL connection), so that watching costs the backend
 * nothing: how many devices report a release done, and a rollout's progress sampled over time
 * (when each wave opened and settled, when the rollout halted or completed).
 */
import BetterSqlite3 from 'better-sqlite3';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { isPostgresUrl } from '../../src/fleet/database-location.js';
import type { SqlDatabase } from '../../src/fleet/sql/database.js';
import { PostgresDatabase } from '../../src/fleet/sql/postgres.js';
import { SqliteDatabase } from '../../src/fleet/sql/sqlite.js';

/** Opens the backend's database for reading only; the backend has created and migrated it. */
export function openReader(location: string): SqlDatabase {
  if (isPostgresUrl(location))
    return new PostgresDatabase(new pg.Pool({ connectionString: location, max: 1 }));
  return new SqliteDatabase(new BetterSqlite3(location, { readonly: true, fileMustExist: true }));
}

interface ReportedApp {
  release_uuid?: string | null;
  releases?: Record<string, { update_status?: string }>;
}

/** How many devices of the fleet report `commit` of app `appUuid` running and `done`. */
export async function countReportedDone(
  db: SqlDatabase,
  fleet: string,
  appUuid: string,
  commit: string,
): Promise<number> {
  const rows = await db.all<{ report_json: string }>(
    'SELECT d.report_json FROM devices d JOIN fleets f ON f.id = d.fleet_id WHERE f.name = ?',
    [fleet],
  );
  let done = 0;
  for (const row of rows) {
    const app = (JSON.parse(row.report_json) as { apps?: Record<string, ReportedApp> }).apps?.[appUuid];
    if (app?.release_uuid === commit && app.releases?.[commit]?.update_status === 'done') done += 1;
  }
  return done;
}

export interface WaveProgress {
  devices: number;
  done: number;
  failed: number;
}

export interface RolloutSample {
  state: string;
  reason: string | null;
  openedWaves: number;
  /** Every wave, opened or not (its devices as the rollout assigned them). */
  waves: WaveProgress[];
}

/** The rollout's state and each wave's tally, as the backend last wrote them. */
export async function sampleRollout(db: SqlDatabase, rolloutId: number): Promise<RolloutSample> {
  const rollout = await db.get<{ state: string; reason: string | null; opened_waves: number }>(
    'SELECT state, reason, opened_waves FROM rollouts WHERE id = ?',
    [rolloutId],
  );
  if (!rollout) throw new Error(`no rollout ${rolloutId} in the database`);
  // Waves are stored 0-based. The cast: PostgreSQL's COUNT(*) is 64-bit, which its driver answers as text.
  const rows = await db.all<{ wave: number; outcome: string; n: number }>(
    `SELECT wave, outcome, CAST(COUNT(*) AS INTEGER) AS n FROM rollout_devices WHERE rollout_id = ?
     GROUP BY wave, outcome`,
    [rolloutId],
  );
  const waves: WaveProgress[] = [];
  for (const row of rows) {
    const wave = (waves[row.wave] ??= { devices: 0, done: 0, failed: 0 });
    const n = row.n;
    wave.devices += n;
    if (row.outcome === 'done') wave.done += n;
    else if (row.outcome === 'failed') wave.failed += n;
  }
  return {
    state: rollout.state,
    reason: rollout.reason,
    openedWaves: Number(rollout.opened_waves),
    waves: Array.from(waves, (w) => w ?? { devices: 0, done: 0, failed: 0 }),
  };
}

export interface RolloutTimeline {
  /** The state it ended in (`complete`, `halted`, ...), or `running` when the time ran out. */
  state: string;
  reason: string | null;
  /** When it left `running`, ms after the watch began; NaN if it never did. */
  endedMs: number;
  /** Per wave, ms after the watch began: when it was first seen opened, and settled (each device done or failed). */
  opened: number[];
  settled: number[];
  waves: WaveProgress[];
  /** When 50%, 90% and 100% of the rollout's devices were done. */
  marks: Record<string, number>;
  /** Devices done at the end of each second. */
  perSecond: number[];
}

/**
 * Samples the rollout every `everyMs` until it stops running (complete, halted, ...) and every
 * opened wave has settled, or until `timeoutMs` has passed.
 */
export async function watchRollout(
  db: SqlDatabase,
  rolloutId: number,
  { everyMs = 100, timeoutMs }: { everyMs?: number; timeoutMs: number },
): Promise<RolloutTimeline> {
  const start = Date.now();
  const timeline: RolloutTimeline = {
    state: 'running',
    reason: null,
    endedMs: Number.NaN,
    opened: [],
    settled: [],
    waves: [],
    marks: {},
    perSecond: [],
  };
  while (Date.now() - start < timeoutMs) {
    const sample = await sampleRollout(db, rolloutId);
    const ms = Date.now() - start;
    timeline.waves = sample.waves;
    for (let w = 0; w < sample.openedWaves; w += 1) {
      timeline.opened[w] ??= ms;
      const wave = sample.waves[w];
      if (wave && wave.done + wave.failed >= wave.devices) timeline.settled[w] ??= ms;
    }
    const total = sample.waves.reduce((sum, w) => sum + w.devices, 0);
    const done = sample.waves.reduce((sum, w) => sum + w.done, 0);
    timeline.perSecond[Math.floor(ms / 1000)] = done;
    for (const fraction of [0.5, 0.9, 1]) {
      const key = `${fraction * 100}%`;
      if (timeline.marks[key] === undefined && total > 0 && done >= Math.ceil(total * fraction))
        timeline.marks[key] = ms;
    }
    if (sample.state !== 'running' && Number.isNaN(timeline.endedMs)) {
      timeline.endedMs = ms;
      timeline.state = sample.state;
      timeline.reason = sample.reason;
    }
    const allSettled = timeline.settled.filter((s) => s !== undefined).length >= sample.openedWaves;
    if (sample.state !== 'running' && allSettled) return timeline;
    await sleep(everyMs);
  }
  return timeline;
}
