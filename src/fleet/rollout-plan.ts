/**
 * Staged rollouts (contract section 12), the pure part: parsing waves and failure limits, sizing
 * waves for a number of devices, the stable order devices are assigned to waves in, what one
 * device's report says about a release, and the state a rollout moves to. No I/O, no clock: the
 * store (rollout-store.ts) gathers the facts, asks here, and writes the answer.
 */
import { createHash } from 'node:crypto';
import type { RolloutStateName } from './api-types.js';
import { PolicyValueError } from '../policy/errors.js';
import { parsePolicyDuration } from '../policy/durations.js';
import { isPlainObject } from './compose-values.js';
import { badInput } from './errors.js';

/** One wave as given: a cumulative count of devices, or a cumulative percentage of them. */
export type WaveSpec = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

/** `--max-failures`: a number of failed devices, or a percentage of the devices in opened waves. */
export type FailureLimit = WaveSpec;

export type RolloutState = RolloutStateName;

/** What a device's reports say about the rollout's release. */
export type DeviceOutcome = 'pending' | 'done' | 'failed';

/** More waves than this is a typo, and each wave is a row of the status table. */
export const MAX_WAVES = 100;

const COUNT = /^[0-9]{1,9}$/;
const PERCENT = /^([0-9]{1,3})(?:\.([0-9]{1,2}))?%$/;

/**
 * Update statuses (contract section 5) that fail a device for the release. `rolled back`,
 * `unhealthy` and `rejected` are final for that release on that device (it does not apply it
 * again unless told); `aborted` means a step failed and backs off, so it counts while reported.
 */
const FINAL_FAILURES = new Set(['rolled back', 'unhealthy', 'rejected']);
const RETRIED_FAILURE = 'aborted';

function parseAmount(text: string, what: string): WaveSpec {
  const trimmed = text.trim();
  if (COUNT.test(trimmed)) return { kind: 'count', value: Number(trimmed) };
  const percent = PERCENT.exec(trimmed);
  if (percent) {
    const value = Number(`${percent[1]}.${percent[2] ?? '0'}`);
    if (value > 100) throw badInput(`${what} "${trimmed}" is more than 100%`);
    return { kind: 'percent', value };
  }
  throw badInput(`${what} "${trimmed.slice(0, 40)}" must be a whole number or a percentage such as 10%`);
}

/**
 * `1,10%,100%`: cumulative counts or percentages, each above the one before (counts compared
 * with counts, percentages with percentages; a mix is checked again once the fleet's size is
 * known, by resolveWaves).
 */
export function parseWaves(text: string): WaveSpec[] {
  if (text.trim() === '') throw badInput('--rollout needs at least one wave, e.g. 1,10%,100%');
  const parts = text.split(',');
  if (parts.length > MAX_WAVES) throw badInput(`--rollout has more than ${MAX_WAVES} waves`);
  const waves = parts.map((part, i) => {
    if (part.trim() === '') throw badInput(`--rollout wave ${i + 1} is empty`);
    const wave = parseAmount(part, `--rollout wave ${i + 1}`);
    if (wave.value <= 0) throw badInput(`--rollout wave ${i + 1} must be at least one device, not "${part}"`);
    return wave;
  });
  for (let i = 1; i < waves.length; i++) {
    const [before, wave] = [waves[i - 1]!, waves[i]!];
    if (before.kind === wave.kind && wave.value <= before.value) {
      throw badInput(
        `--rollout waves are cumulative and must grow: wave ${i + 1} (${formatAmount(wave)}) is not more than wave ${i} (${formatAmount(before)})`,
      );
    }
  }
  return waves;
}

export function parseFailureLimit(text: string): FailureLimit {
  if (text.trim() === '') throw badInput('--max-failures must be a number or a percentage');
  return parseAmount(text, '--max-failures');
}

/** `--wave-wait`: a duration in contract section 10's syntax. */
export function parseWaveWait(text: string): number {
  try {
    return parsePolicyDuration(text);
  } catch (err) {
    if (err instanceof PolicyValueError) throw badInput(`--wave-wait: ${err.message}`);
    throw err;
  }
}

export function formatAmount(amount: WaveSpec): string {
  return amount.kind === 'count' ? String(amount.value) : `${amount.value}%`;
}

export function formatWaves(waves: WaveSpec[]): string {
  return waves.map(formatAmount).join(',');
}

/**
 * Cumulative device counts of each wave for `devices` devices. Percentages round up; each wave
 * adds at least one device; a wave that would find none left is dropped; devices the last wave
 * does not reach form one more wave (a rollout ends with every matching device on the release).
 * A wave that asks for fewer devices than the one before (`10%,5` of 100 devices) is refused.
 */
export function resolveWaves(waves: WaveSpec[], devices: number): number[] {
  const sizes: number[] = [];
  let asked = 0;
  for (const [i, wave] of waves.entries()) {
    const count = wave.kind === 'count' ? wave.value : Math.ceil((wave.value * devices) / 100);
    if (count < asked) {
      throw badInput(
        `--rollout waves are cumulative and must grow: wave ${i + 1} (${formatAmount(wave)}) is ${count} of ${devices} devices, fewer than wave ${i} (${asked})`,
      );
    }
    asked = count;
    const previous = sizes[sizes.length - 1] ?? 0;
    if (previous >= devices) break;
    sizes.push(Math.min(devices, Math.max(count, previous + 1)));
  }
  const last = sizes[sizes.length - 1] ?? 0;
  if (last < devices) sizes.push(devices);
  return sizes;
}

/** The wave (0-based) of the device at `position` in the rollout order. */
export function waveOf(sizes: number[], position: number): number {
  const wave = sizes.findIndex((size) => position < size);
  return wave === -1 ? sizes.length - 1 : wave;
}

/**
 * The order devices are assigned to waves in: by a hash of the release and the device's uuid.
 * Stable for a release (the same devices lead however often it is asked), yet each release
 * picks its own first devices, so no device is everyone's canary.
 */
export function rolloutOrder(uuids: string[], releaseCommit: string): string[] {
  const keyed = uuids.map((uuid) => ({
    uuid,
    key: createHash('sha256').update(`${releaseCommit}:${uuid}`).digest('hex'),
  }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.uuid < b.uuid ? -1 : 1));
  return keyed.map((entry) => entry.uuid);
}

export interface ReportedOutcome {
  outcome: DeviceOutcome;
  /** Why it failed: the update status, and the device's rollback reason if it gave one. */
  failure?: string;
  /** The failure is final for this release on this device (not `aborted`). */
  final?: boolean;
}

/**
 * What a device's merged report (contract section 5) says about `commit` of app `appUuid`:
 * done once it runs the release, reports it `done` and its probation has ended (no
 * `probation_ends_at`); failed on `rolled back`, `unhealthy`, `rejected` or `aborted`.
 * Tolerant: a report is whatever the device sent.
 */
export function reportedOutcome(report: unknown, appUuid: string, commit: string): ReportedOutcome {
  const apps = isPlainObject(report) && isPlainObject(report.apps) ? report.apps : {};
  const app = isPlainObject(apps[appUuid]) ? apps[appUuid] : {};
  const releases = isPlainObject(app.releases) ? app.releases : {};
  const release = isPlainObject(releases[commit]) ? releases[commit] : {};
  const status = typeof release.update_status === 'string' ? release.update_status : undefined;
  if (status !== undefined && (FINAL_FAILURES.has(status) || status === RETRIED_FAILURE)) {
    const reason = typeof release.rollback_reason === 'string' ? `: ${release.rollback_reason}` : '';
    return { outcome: 'failed', failure: `${status}${reason}`, final: status !== RETRIED_FAILURE };
  }
  const onProbation = release.probation_ends_at !== undefined && release.probation_ends_at !== null;
  if (app.release_uuid === commit && status === 'done' && !onProbation) return { outcome: 'done' };
  return { outcome: 'pending' };
}

/** The next stored outcome of a device: a final failure stays; anything else follows the report. */
export function nextOutcome(
  stored: { outcome: DeviceOutcome; failure: string | null; final: boolean },
  reported: ReportedOutcome,
): ReportedOutcome {
  if (stored.outcome === 'failed' && stored.final) {
    return { outcome: 'failed', failure: stored.failure ?? undefined, final: true };
  }
  return reported;
}

/** Whether `failed` devices exceed the limit, out of `opened` devices in the opened waves. */
export function exceedsFailureLimit(limit: FailureLimit, failed: number, opened: number): boolean {
  if (limit.kind === 'count') return failed > limit.value;
  return failed * 100 > limit.value * opened;
}

/** One wave's devices (pinned ones left out: a pin takes a device out of the rollout). */
export interface WaveTally {
  devices: number;
  done: number;
  failed: number;
  /** When the wave's most recent device became done (ms), null when none is. */
  lastDoneAt: number | null;
}

export interface RolloutFacts {
  state: RolloutState;
  openedWaves: number;
  waveWaitMs: number;
  maxFailures: FailureLimit;
  /** Every wave, opened or not, in order. */
  waves: WaveTally[];
  now: number;
}

export interface RolloutStep {
  state: RolloutState;
  openedWaves: number;
  /** Why it halted. */
  reason?: string;
  /** When to look again although no report came: a wave's wait ends. Null: on reports only. */
  checkAt: number | null;
}

/**
 * Where a running rollout goes from here. It halts once failures in the opened waves exceed the
 * limit; otherwise the next wave opens when every device of the last opened wave is done or
 * failed and the done ones have stayed done for the wave wait; after the last wave it is
 * complete. Several waves may open at once (a wave of pinned devices only has nothing to wait
 * for). Other states stay as they are: paused, halted and the ended ones move on command only.
 */
export function advanceRollout(facts: RolloutFacts): RolloutStep {
  let opened = facts.openedWaves;
  if (facts.state !== 'running') return { state: facts.state, openedWaves: opened, checkAt: null };
  for (;;) {
    const openWaves = facts.waves.slice(0, opened);
    const failed = openWaves.reduce((sum, wave) => sum + wave.failed, 0);
    const devices = openWaves.reduce((sum, wave) => sum + wave.devices, 0);
    if (exceedsFailureLimit(facts.maxFailures, failed, devices)) {
      return {
        state: 'halted',
        openedWaves: opened,
        reason: haltReason(facts.maxFailures, opened, failed, devices),
        checkAt: null,
      };
    }
    const current = facts.waves[opened - 1];
    if (current && current.done + current.failed < current.devices) {
      return { state: 'running', openedWaves: opened, checkAt: null };
    }
    if (opened >= facts.waves.length) return { state: 'complete', openedWaves: opened, checkAt: null };
    const readyAt =
      current && current.lastDoneAt !== null && facts.waveWaitMs > 0
        ? current.lastDoneAt + facts.waveWaitMs
        : facts.now;
    if (readyAt > facts.now) return { state: 'running', openedWaves: opened, checkAt: readyAt };
    opened++;
  }
}

function haltReason(limit: FailureLimit, opened: number, failed: number, devices: number): string {
  const waves = opened === 1 ? 'wave 1' : `waves 1-${opened}`;
  const allowed =
    limit.kind === 'count'
      ? `--max-failures ${limit.value}`
      : `--max-failures ${limit.value}% of the ${devices} devices in opened waves`;
  return `${failed} device${failed === 1 ? '' : 's'} failed in ${waves}, more than ${allowed}`;
}
