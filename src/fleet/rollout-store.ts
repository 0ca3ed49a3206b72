import type { DeviceRolloutView, ReleaseRef, RolloutRequest, RolloutView } from './api-types.js';
import { badInput, conflict, notFound } from './errors.js';
import { findFleet, lockFleet, lockFleetById, type FleetRow } from './fleet-rows.js';
import {
  advanceRollout,
  formatAmount,
  formatWaves,
  nextOutcome,
  parseFailureLimit,
  parseWaves,
  parseWaveWait,
  reportedOutcome,
  resolveWaves,
  rolloutOrder,
  waveOf,
  type DeviceOutcome,
  type FailureLimit,
  type RolloutState,
  type WaveSpec,
} from './rollout-plan.js';
import { deviceWaves, rolloutView, waveSizes, waveTallies, type RolloutRow } from './rollout-view.js';
import type { SqlDatabase, SqlExecutor } from './sql/database.js';
import { formatTags, matchesTags, tagRecord, type Tags } from './tags.js';
import type { TargetWriter } from './target-writer.js';

/** A rollout's options, checked: what `rolloutSettings` makes of a request. */
export interface RolloutSettings {
  waves: WaveSpec[];
  waveWaitMs: number;
  maxFailures: FailureLimit;
  only: Tags;
}

/** A plain push or rollback: one wave of every device, no failure tolerated. */
const ONE_WAVE: WaveSpec[] = [{ kind: 'percent', value: 100 }];

/** Rows written by one INSERT on PostgreSQL: five parameters each, well under its 65535. */
const POSTGRES_BATCH = 500;

/** Checks a rollout request (400 on anything malformed); no request is a one-wave rollout. */
export function rolloutSettings(request: RolloutRequest = {}): RolloutSettings {
  return {
    waves: request.waves === undefined ? ONE_WAVE : parseWaves(request.waves),
    waveWaitMs: request.waveWait === undefined ? 0 : parseWaveWait(request.waveWait),
    maxFailures:
      request.maxFailures === undefined
        ? { kind: 'count', value: 0 }
        : parseFailureLimit(request.maxFailures),
    only: tagRecord(request.only, 'only'),
  };
}

/**
 * Staged rollouts (contract section 12) in the database. A rollout assigns the fleet's unpinned
 * devices (those matching its tag filter) to waves when it starts; opening a wave gives its
 * devices the release (`devices.assigned_release_id`). It advances from the devices' own reports
 * (`recordReport`, then `advance`) and, when a wave's wait must run out with no report to say
 * so, from the next poll or read after `fleets.rollout_check_at`: no timer of its own, so a
 * backend that restarts (or another one on the same PostgreSQL database) carries on where it
 * stood. Every change runs in a transaction that holds the fleet's row for update.
 */
export class RolloutRepository {
  constructor(
    private readonly db: SqlDatabase,
    private readonly targets: TargetWriter,
  ) {}

  /**
   * Starts a rollout of `release` in the caller's transaction, the fleet's row locked for
   * update, and opens its first wave. Refused (409) while a staged rollout runs or is paused;
   * any other current rollout (one wave, or halted) is superseded.
   */
  async start(
    tx: SqlExecutor,
    fleet: FleetRow,
    release: ReleaseRef,
    settings: RolloutSettings,
    now: Date,
  ): Promise<RolloutView> {
    const current = await this.current(tx, fleet);
    if (current && blocksNewRollouts(current)) {
      const sizes = waveSizes(current);
      throw conflict(
        `a rollout of release ${current.release_id} is ${current.state} in fleet ${fleet.name} ` +
          `(wave ${current.opened_waves} of ${sizes.length}); abort it first: bosun fleet rollout abort ${fleet.name}`,
      );
    }
    const candidates = await tx.all<{ id: number; uuid: string; release_id: number | null }>(
      `SELECT d.id, d.uuid, COALESCE(d.assigned_release_id, f.target_release_id) AS release_id
       FROM devices d JOIN fleets f ON f.id = d.fleet_id
       WHERE d.fleet_id = ? AND d.pinned_release_id IS NULL`,
      [fleet.id],
    );
    const filtered = Object.keys(settings.only).length > 0;
    const eligible = filtered ? await this.tagged(tx, fleet.id, candidates, settings.only) : candidates;
    if (filtered && eligible.length === 0) {
      throw badInput(`no unpinned device of fleet ${fleet.name} is tagged ${formatTags(settings.only)}`);
    }
    const sizes = resolveWaves(settings.waves, eligible.length);
    const iso = now.toISOString();
    const inserted = await tx.get<{ id: number }>(
      `INSERT INTO rollouts (fleet_id, release_id, previous_release_id, waves, wave_sizes, wave_wait_ms,
         max_failures, only_tags, state, reason, opened_waves, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', NULL, 0, ?, ?) RETURNING id`,
      [
        fleet.id,
        release.id,
        fleet.target_release_id,
        formatWaves(settings.waves),
        JSON.stringify(sizes),
        settings.waveWaitMs,
        formatAmount(settings.maxFailures),
        JSON.stringify(settings.only),
        iso,
        iso,
      ],
    );
    const rolloutId = inserted!.id;
    if (current && current.state !== 'complete' && current.state !== 'aborted') {
      await tx.run("UPDATE rollouts SET state = 'superseded', reason = ?, updated_at = ? WHERE id = ?", [
        `superseded by rollout ${rolloutId}`,
        iso,
        current.id,
      ]);
    }
    const byUuid = new Map(eligible.map((device) => [device.uuid, device]));
    const ordered = rolloutOrder([...byUuid.keys()], release.commit).map((uuid) => byUuid.get(uuid)!);
    await insertRolloutDevices(
      tx,
      ordered.map((device, position) => [
        rolloutId,
        device.id,
        waveOf(sizes, position),
        position,
        device.release_id,
      ]),
    );
    await tx.run('UPDATE fleets SET rollout_id = ? WHERE id = ?', [rolloutId, fleet.id]);
    await this.advance(tx, { ...fleet, rollout_id: rolloutId }, now);
    // Last: the devices' rows were written first (as a report's transaction takes them), so
    // clearing the superseded rollout's rows cannot wait on a report that waits on them.
    await tx.run(
      'DELETE FROM rollout_devices WHERE rollout_id <> ? AND rollout_id IN (SELECT id FROM rollouts WHERE fleet_id = ?)',
      [rolloutId, fleet.id],
    );
    return rolloutView(tx, fleet.name, rolloutId);
  }

  /**
   * The fleet's current rollout; 404 without one. A running one is looked at again first (a
   * wave's wait may have ended); any other is only read, so a dashboard's reads lock nothing.
   */
  async status(fleetName: string, now = new Date()): Promise<RolloutView> {
    const fleet = await findFleet(this.db, fleetName);
    if (!fleet) throw notFound(`unknown fleet "${fleetName}"`);
    if (fleet.rollout_id === null) throw notFound(`fleet ${fleetName} has no rollout`);
    const current = await this.current(this.db, fleet);
    if (current?.state === 'running') await this.advanceFleet(fleet.id, now);
    return rolloutView(this.db, fleet.name, fleet.rollout_id);
  }

  /** Stops opening waves; devices keep what they have. */
  pause(fleetName: string, now = new Date()): Promise<RolloutView> {
    return this.command(fleetName, now, async (tx, _fleet, rollout) => {
      if (rollout.state !== 'running') throw conflict(`the rollout is ${rollout.state}, not running`);
      await this.setState(tx, rollout.id, 'paused', null, now);
      await tx.run('UPDATE fleets SET rollout_check_at = NULL WHERE id = ?', [rollout.fleet_id]);
    });
  }

  /** Carries a paused rollout on from where it stood. */
  resume(fleetName: string, now = new Date()): Promise<RolloutView> {
    return this.command(fleetName, now, async (tx, fleet, rollout) => {
      if (rollout.state !== 'paused') {
        const hint =
          rollout.state === 'halted' ? `: ${rollout.reason}; abort it or start another rollout` : '';
        throw conflict(`the rollout is ${rollout.state}, not paused${hint}`);
      }
      await this.setState(tx, rollout.id, 'running', null, now);
      await this.advance(tx, fleet, now);
    });
  }

  /**
   * Ends the rollout and puts every device of its opened waves back on the release it ran
   * before (a device that had none keeps the new one: taking its app away would be worse).
   */
  abort(fleetName: string, now = new Date()): Promise<RolloutView> {
    return this.command(fleetName, now, async (tx, fleet, rollout) => {
      if (!['running', 'paused', 'halted'].includes(rollout.state)) {
        const hint = rollout.state === 'complete' ? '; to go back, bosun fleet rollback' : '';
        throw conflict(`the rollout is ${rollout.state}${hint}`);
      }
      await tx.run(
        `UPDATE devices SET assigned_release_id = (SELECT rd.previous_release_id FROM rollout_devices rd
           WHERE rd.rollout_id = ? AND rd.device_id = devices.id)
         WHERE id IN (SELECT device_id FROM rollout_devices
           WHERE rollout_id = ? AND wave < ? AND previous_release_id IS NOT NULL)`,
        [rollout.id, rollout.id, rollout.opened_waves],
      );
      let target = fleet.target_release_id;
      if (target === rollout.release_id && rollout.previous_release_id !== null) {
        target = rollout.previous_release_id;
        await tx.run('UPDATE fleets SET target_release_id = ? WHERE id = ?', [target, fleet.id]);
      }
      await this.followFleetTarget(tx, fleet.id, target);
      await this.setState(tx, rollout.id, 'aborted', null, now);
      await tx.run('UPDATE fleets SET rollout_check_at = NULL WHERE id = ?', [fleet.id]);
      await this.targets.recomputeFleet(tx, fleet.id);
    });
  }

  /**
   * Records what a device's merged report says about its fleet's current rollout, in the
   * report's transaction (the device's row locked). True when the rollout should be advanced
   * now: a device of an opened wave of a running rollout became done, failed or pending again.
   */
  async recordReport(tx: SqlExecutor, deviceId: number, fleetId: number, report: unknown, now: Date) {
    const row = await tx.get<{
      rollout_id: number;
      state: RolloutState;
      opened_waves: number;
      wave: number;
      outcome: DeviceOutcome;
      final_failure: number;
      failure: string | null;
      done_since: string | null;
      commit_uuid: string;
      app_uuid: string;
    }>(
      `SELECT ro.id AS rollout_id, ro.state, ro.opened_waves, rd.wave, rd.outcome, rd.final_failure,
         rd.failure, rd.done_since, r.commit_uuid, a.uuid AS app_uuid
       FROM fleets f JOIN rollouts ro ON ro.id = f.rollout_id
         JOIN rollout_devices rd ON rd.rollout_id = ro.id AND rd.device_id = ?
         JOIN releases r ON r.id = ro.release_id JOIN apps a ON a.fleet_id = f.id
       WHERE f.id = ?`,
      [deviceId, fleetId],
    );
    // Devices of waves not opened yet were never given the release; aborted rollouts are over.
    if (!row || row.wave >= row.opened_waves || row.state === 'aborted' || row.state === 'superseded') {
      return false;
    }
    const next = nextOutcome(
      { outcome: row.outcome, failure: row.failure, final: row.final_failure === 1 },
      reportedOutcome(report, row.app_uuid, row.commit_uuid),
    );
    const failure = next.failure ?? null;
    if (next.outcome === row.outcome && failure === row.failure) return false;
    const doneSince = next.outcome === 'done' ? (row.done_since ?? now.toISOString()) : null;
    await tx.run(
      `UPDATE rollout_devices SET outcome = ?, failure = ?, final_failure = ?, done_since = ?
       WHERE rollout_id = ? AND device_id = ?`,
      [next.outcome, failure, next.final ? 1 : 0, doneSince, row.rollout_id, deviceId],
    );
    return row.state === 'running';
  }

  /** Advances the fleet's rollout in a transaction of its own (after a report, or a poll). */
  async advanceFleet(fleetId: number, now = new Date()): Promise<void> {
    await this.db.transaction(async (tx) => {
      const fleet = await lockFleetById(tx, fleetId);
      if (fleet) await this.advance(tx, fleet, now);
    });
  }

  /** Where each device of the fleets' current rollouts (or one fleet's) stands, by device id. */
  deviceWaves(fleetId: number | undefined): Promise<Map<number, DeviceRolloutView>> {
    return deviceWaves(this.db, fleetId);
  }

  /** Advances every rollout whose wave wait has run out by `now` (on reads: no timer runs). */
  async advanceDue(now = new Date()): Promise<void> {
    const due = await this.db.all<{ id: number }>(
      'SELECT id FROM fleets WHERE rollout_check_at IS NOT NULL AND rollout_check_at <= ?',
      [now.toISOString()],
    );
    for (const { id } of due) await this.advanceFleet(id, now);
  }

  /**
   * Moves a running rollout on as far as its devices' outcomes allow (rollout-plan.ts decides):
   * opens waves, halts, completes, and notes when to look again. Once its last wave is open, a
   * rollout of the whole fleet makes the release the fleet's target (new devices get it too).
   */
  private async advance(tx: SqlExecutor, fleet: FleetRow, now: Date): Promise<void> {
    const rollout = await this.current(tx, fleet);
    if (!rollout || rollout.state !== 'running') return;
    const sizes = waveSizes(rollout);
    const step = advanceRollout({
      state: rollout.state,
      openedWaves: rollout.opened_waves,
      waveWaitMs: rollout.wave_wait_ms,
      maxFailures: parseFailureLimit(rollout.max_failures),
      waves: await waveTallies(tx, rollout.id, sizes.length),
      now: now.getTime(),
    });
    const opening = step.openedWaves > rollout.opened_waves;
    if (opening) {
      await tx.run(
        `UPDATE devices SET assigned_release_id = ? WHERE id IN
           (SELECT device_id FROM rollout_devices WHERE rollout_id = ? AND wave >= ? AND wave < ?)`,
        [rollout.release_id, rollout.id, rollout.opened_waves, step.openedWaves],
      );
    }
    const wholeFleet = rollout.only_tags === '{}';
    const lastOpen = step.openedWaves >= sizes.length;
    const retarget = wholeFleet && lastOpen && fleet.target_release_id !== rollout.release_id;
    if (retarget) {
      await tx.run('UPDATE fleets SET target_release_id = ? WHERE id = ?', [rollout.release_id, fleet.id]);
      await this.followFleetTarget(tx, fleet.id, rollout.release_id);
    }
    if (opening || retarget) await this.targets.recomputeFleet(tx, fleet.id);
    if (step.state !== rollout.state || opening) {
      await tx.run(
        'UPDATE rollouts SET state = ?, reason = ?, opened_waves = ?, updated_at = ? WHERE id = ?',
        [step.state, step.reason ?? null, step.openedWaves, now.toISOString(), rollout.id],
      );
    }
    const checkAt = step.checkAt === null ? null : new Date(step.checkAt).toISOString();
    if (checkAt !== fleet.rollout_check_at) {
      await tx.run('UPDATE fleets SET rollout_check_at = ? WHERE id = ?', [checkAt, fleet.id]);
    }
  }

  /** Devices assigned the fleet's target follow the fleet's target again (NULL means just that). */
  private async followFleetTarget(tx: SqlExecutor, fleetId: number, target: number | null): Promise<void> {
    if (target === null) return;
    await tx.run(
      'UPDATE devices SET assigned_release_id = NULL WHERE fleet_id = ? AND assigned_release_id = ?',
      [fleetId, target],
    );
  }

  private async tagged<T extends { id: number }>(
    tx: SqlExecutor,
    fleetId: number,
    devices: T[],
    only: Tags,
  ): Promise<T[]> {
    const rows = await tx.all<{ device_id: number; key: string; value: string }>(
      'SELECT t.device_id, t.key, t.value FROM device_tags t JOIN devices d ON d.id = t.device_id WHERE d.fleet_id = ?',
      [fleetId],
    );
    const tags = new Map<number, Array<[string, string]>>();
    for (const row of rows)
      tags.set(row.device_id, [...(tags.get(row.device_id) ?? []), [row.key, row.value]]);
    return devices.filter((device) => matchesTags(Object.fromEntries(tags.get(device.id) ?? []), only));
  }

  private current(tx: SqlExecutor, fleet: FleetRow): Promise<RolloutRow | undefined> {
    if (fleet.rollout_id === null) return Promise.resolve(undefined);
    return tx.get<RolloutRow>('SELECT * FROM rollouts WHERE id = ?', [fleet.rollout_id]);
  }

  private async setState(tx: SqlExecutor, id: number, state: RolloutState, reason: string | null, now: Date) {
    await tx.run('UPDATE rollouts SET state = ?, reason = ?, updated_at = ? WHERE id = ?', [
      state,
      reason,
      now.toISOString(),
      id,
    ]);
  }

  /** A manager's command on the fleet's current rollout, in a transaction; answers its new status. */
  private async command(
    fleetName: string,
    now: Date,
    change: (tx: SqlExecutor, fleet: FleetRow, rollout: RolloutRow) => Promise<void>,
  ): Promise<RolloutView> {
    const rolloutId = await this.db.transaction(async (tx) => {
      const fleet = await lockFleet(tx, fleetName);
      const rollout = await this.current(tx, fleet);
      if (!rollout) throw notFound(`fleet ${fleetName} has no rollout`);
      await change(tx, fleet, rollout);
      return rollout.id;
    });
    return rolloutView(this.db, fleetName, rolloutId);
  }
}

/** A staged rollout that runs or is paused: a new one would cut across its waves. */
function blocksNewRollouts(rollout: RolloutRow): boolean {
  return (rollout.state === 'running' || rollout.state === 'paused') && waveSizes(rollout).length > 1;
}

type RolloutDeviceValues = [number, number, number, number, number | null];

async function insertRolloutDevices(tx: SqlExecutor, rows: RolloutDeviceValues[]): Promise<void> {
  const batch = tx.dialect === 'sqlite' ? 1 : POSTGRES_BATCH;
  for (let start = 0; start < rows.length; start += batch) {
    const slice = rows.slice(start, start + batch);
    await tx.run(
      `INSERT INTO rollout_devices (rollout_id, device_id, wave, position, previous_release_id)
       VALUES ${slice.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
      slice.flat(),
    );
  }
}
