import { describe, expect, it } from '@jest/globals';
import { FleetError } from '../../../src/fleet/errors.js';
import {
  advanceRollout,
  exceedsFailureLimit,
  nextOutcome,
  parseFailureLimit,
  parseWaves,
  parseWaveWait,
  reportedOutcome,
  resolveWaves,
  rolloutOrder,
  waveOf,
  type RolloutFacts,
  type WaveTally,
} from '../../../src/fleet/rollout-plan.js';

function messageOf(action: () => unknown): string {
  try {
    action();
  } catch (err) {
    if (err instanceof FleetError && err.statusCode === 400) return err.message;
    throw err;
  }
  throw new Error('expected a 400');
}

describe('fleet/rollout-plan: waves', () => {
  it('parses cumulative counts and percentages', () => {
    expect(parseWaves('1,10%,100%')).toEqual([
      { kind: 'count', value: 1 },
      { kind: 'percent', value: 10 },
      { kind: 'percent', value: 100 },
    ]);
    expect(parseWaves(' 5 , 12.5% ')).toEqual([
      { kind: 'count', value: 5 },
      { kind: 'percent', value: 12.5 },
    ]);
  });

  it.each([
    ['', /at least one wave/],
    ['0', /at least one device/],
    ['0%', /at least one device/],
    ['110%', /more than 100%/],
    ['10,5', /must grow/],
    ['50%,50%', /must grow/],
    ['1,,2', /wave 2 is empty/],
    ['ten', /whole number or a percentage/],
    ['-1', /whole number or a percentage/],
    ['1.5', /whole number or a percentage/],
  ])('refuses %j', (text, message) => {
    expect(messageOf(() => parseWaves(text))).toMatch(message);
  });

  it('sizes waves: percentages round up, each wave adds a device, the rest form a last wave', () => {
    const waves = parseWaves('1,10%,100%');
    expect(resolveWaves(waves, 40)).toEqual([1, 4, 40]);
    expect(resolveWaves(waves, 1000)).toEqual([1, 100, 1000]);
    // 10% of 5 is 0.5, rounded up to 1: the same as wave 1, so one more device.
    expect(resolveWaves(waves, 5)).toEqual([1, 2, 5]);
    // Fewer devices than waves: the waves that would find none left are dropped.
    expect(resolveWaves(waves, 1)).toEqual([1]);
    expect(resolveWaves(waves, 2)).toEqual([1, 2]);
    expect(resolveWaves(waves, 0)).toEqual([]);
    // A last wave short of every device: the rest still get it, in one more wave.
    expect(resolveWaves(parseWaves('1,5'), 20)).toEqual([1, 5, 20]);
    expect(resolveWaves(parseWaves('3'), 2)).toEqual([2]);
    expect(resolveWaves(parseWaves('1%'), 1000)).toEqual([10, 1000]);
  });

  it('refuses mixed waves that shrink once the fleet size is known', () => {
    expect(messageOf(() => resolveWaves(parseWaves('10%,5'), 100))).toMatch(
      /wave 2 \(5\) is 5 of 100 devices/,
    );
    expect(resolveWaves(parseWaves('10%,5'), 20)).toEqual([2, 5, 20]);
  });

  it('finds the wave of a position', () => {
    const sizes = [1, 4, 40];
    expect([0, 1, 3, 4, 39].map((p) => waveOf(sizes, p))).toEqual([0, 1, 1, 2, 2]);
  });

  it('orders devices by release and uuid: stable, and another release picks other devices first', () => {
    const uuids = Array.from({ length: 40 }, (_, i) => `device-${String(i).padStart(4, '0')}`);
    const order = rolloutOrder(uuids, 'a'.repeat(32));
    expect(rolloutOrder([...uuids].reverse(), 'a'.repeat(32))).toEqual(order);
    expect([...order].sort()).toEqual(uuids);
    expect(rolloutOrder(uuids, 'b'.repeat(32))).not.toEqual(order);
  });

  it('parses failure limits and wave waits', () => {
    expect(parseFailureLimit('2')).toEqual({ kind: 'count', value: 2 });
    expect(parseFailureLimit('0')).toEqual({ kind: 'count', value: 0 });
    expect(parseFailureLimit('5%')).toEqual({ kind: 'percent', value: 5 });
    expect(messageOf(() => parseFailureLimit('lots'))).toMatch(/--max-failures/);
    expect(parseWaveWait('90s')).toBe(90_000);
    expect(parseWaveWait('0')).toBe(0);
    expect(messageOf(() => parseWaveWait('soon'))).toMatch(/^--wave-wait: expected a duration/);
  });

  it('counts failures over a count, or over a percentage of the devices in opened waves', () => {
    expect(exceedsFailureLimit({ kind: 'count', value: 0 }, 0, 10)).toBe(false);
    expect(exceedsFailureLimit({ kind: 'count', value: 0 }, 1, 10)).toBe(true);
    expect(exceedsFailureLimit({ kind: 'count', value: 2 }, 2, 10)).toBe(false);
    expect(exceedsFailureLimit({ kind: 'percent', value: 10 }, 1, 10)).toBe(false);
    expect(exceedsFailureLimit({ kind: 'percent', value: 10 }, 2, 10)).toBe(true);
    expect(exceedsFailureLimit({ kind: 'percent', value: 10 }, 0, 0)).toBe(false);
  });
});

describe('fleet/rollout-plan: a device report', () => {
  const app = 'app-uuid';
  const commit = 'c'.repeat(32);
  const report = (releaseUuid: string, entry: Record<string, unknown>) => ({
    apps: { [app]: { release_uuid: releaseUuid, releases: { [commit]: entry } } },
  });

  it('is done once the device runs the release, reports it done and its probation is over', () => {
    expect(reportedOutcome(report(commit, { update_status: 'done' }), app, commit)).toEqual({
      outcome: 'done',
    });
    expect(
      reportedOutcome(
        report(commit, { update_status: 'done', probation_ends_at: '2026-01-01T00:00:00Z' }),
        app,
        commit,
      ),
    ).toEqual({ outcome: 'pending' });
    expect(reportedOutcome(report('old', { update_status: 'downloading' }), app, commit).outcome).toBe(
      'pending',
    );
    expect(reportedOutcome({}, app, commit).outcome).toBe('pending');
    expect(reportedOutcome('junk', app, commit).outcome).toBe('pending');
  });

  it('fails on rolled back, unhealthy, rejected (final) and aborted (retried), with the reason', () => {
    expect(
      reportedOutcome(
        report('old', { update_status: 'rolled back', rollback_reason: 'service main exited with code 1' }),
        app,
        commit,
      ),
    ).toEqual({ outcome: 'failed', failure: 'rolled back: service main exited with code 1', final: true });
    expect(reportedOutcome(report('x', { update_status: 'unhealthy' }), app, commit)).toMatchObject({
      final: true,
    });
    expect(reportedOutcome(report('x', { update_status: 'rejected' }), app, commit)).toMatchObject({
      final: true,
    });
    expect(reportedOutcome(report('x', { update_status: 'aborted' }), app, commit)).toEqual({
      outcome: 'failed',
      failure: 'aborted',
      final: false,
    });
  });

  it('keeps a final failure whatever the device reports next; a retried one follows the report', () => {
    const finalFailure = { outcome: 'failed' as const, failure: 'rolled back: x', final: true };
    expect(nextOutcome(finalFailure, { outcome: 'pending' })).toEqual({
      outcome: 'failed',
      failure: 'rolled back: x',
      final: true,
    });
    expect(nextOutcome({ outcome: 'failed', failure: 'aborted', final: false }, { outcome: 'done' })).toEqual(
      {
        outcome: 'done',
      },
    );
  });
});

describe('fleet/rollout-plan: advanceRollout', () => {
  const wave = (devices: number, done = 0, failed = 0, lastDoneAt: number | null = null): WaveTally => ({
    devices,
    done,
    failed,
    lastDoneAt,
  });
  const facts = (overrides: Partial<RolloutFacts>): RolloutFacts => ({
    state: 'running',
    openedWaves: 1,
    waveWaitMs: 0,
    maxFailures: { kind: 'count', value: 0 },
    waves: [wave(1), wave(3), wave(36)],
    now: 10_000,
    ...overrides,
  });

  it('opens the first wave of a new rollout', () => {
    expect(advanceRollout(facts({ openedWaves: 0 }))).toEqual({
      state: 'running',
      openedWaves: 1,
      checkAt: null,
    });
  });

  it('waits while a device of the open wave is pending', () => {
    expect(advanceRollout(facts({ waves: [wave(1), wave(3, 2), wave(36)], openedWaves: 2 }))).toEqual({
      state: 'running',
      openedWaves: 2,
      checkAt: null,
    });
  });

  it('opens the next wave once every device of the open one is done', () => {
    expect(advanceRollout(facts({ waves: [wave(1, 1), wave(3), wave(36)] }))).toMatchObject({
      openedWaves: 2,
    });
  });

  it('waits out the wave wait from the last device done, and says when to look again', () => {
    const waiting = facts({ waveWaitMs: 5_000, waves: [wave(1, 1, 0, 8_000), wave(3), wave(36)] });
    expect(advanceRollout(waiting)).toEqual({ state: 'running', openedWaves: 1, checkAt: 13_000 });
    expect(advanceRollout({ ...waiting, now: 13_000 })).toEqual({
      state: 'running',
      openedWaves: 2,
      checkAt: null,
    });
  });

  it('halts when failures exceed the limit, and says why', () => {
    const step = advanceRollout(facts({ openedWaves: 2, waves: [wave(1, 1), wave(3, 1, 2), wave(36)] }));
    expect(step).toEqual({
      state: 'halted',
      openedWaves: 2,
      reason: '2 devices failed in waves 1-2, more than --max-failures 0',
      checkAt: null,
    });
    const percent = advanceRollout(
      facts({
        maxFailures: { kind: 'percent', value: 25 },
        openedWaves: 2,
        waves: [wave(1, 1), wave(3, 1, 2), wave(36)],
      }),
    );
    expect(percent.reason).toBe(
      '2 devices failed in waves 1-2, more than --max-failures 25% of the 4 devices in opened waves',
    );
  });

  it('tolerates failures within the limit: a wave of done and failed devices is settled', () => {
    const step = advanceRollout(
      facts({
        maxFailures: { kind: 'count', value: 1 },
        openedWaves: 2,
        waves: [wave(1, 1), wave(3, 2, 1), wave(36)],
      }),
    );
    expect(step).toEqual({ state: 'running', openedWaves: 3, checkAt: null });
  });

  it('completes once the last wave is settled; opens waves with no device left at once', () => {
    expect(advanceRollout(facts({ openedWaves: 3, waves: [wave(1, 1), wave(3, 3), wave(36, 36)] }))).toEqual({
      state: 'complete',
      openedWaves: 3,
      checkAt: null,
    });
    // Wave 2's devices were all pinned since: nothing to wait for.
    expect(advanceRollout(facts({ waves: [wave(1, 1), wave(0), wave(36)] }))).toMatchObject({
      openedWaves: 3,
    });
    expect(advanceRollout(facts({ openedWaves: 0, waves: [] }))).toMatchObject({ state: 'complete' });
  });

  it('leaves paused, halted and ended rollouts as they are', () => {
    for (const state of ['paused', 'halted', 'complete', 'aborted'] as const) {
      expect(advanceRollout(facts({ state, waves: [wave(1, 1), wave(3), wave(36)] }))).toEqual({
        state,
        openedWaves: 1,
        checkAt: null,
      });
    }
  });
});
