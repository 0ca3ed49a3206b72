import { describe, expect, it } from '@jest/globals';
import { FAILING_PASSES_MS, STALLED_PASS_MS, healthVerdict } from '../../../src/agent/health.js';
import { OrderedHandoff } from '../../../src/agent/ordered-handoff.js';
import { PassMetrics } from '../../../src/agent/pass-metrics.js';
import { ReportRefresher } from '../../../src/agent/report-refresher.js';
import type { PassOutcome } from '../../../src/reconcile/loop-types.js';
import type { AppPlan } from '../../../src/reconcile/plan.js';
import { sleep } from '../../helpers/wait.js';

const NOW = 1_000_000_000;

describe('agent/health: GET /v1/healthy from what the loop and poller say', () => {
  it.each([
    ['idle, polling fine', {}, true, undefined],
    ['a pass running for 29 minutes', { passStartedAt: NOW - 29 * 60_000 }, true, undefined],
    [
      'a pass running past 30 minutes',
      { passStartedAt: NOW - STALLED_PASS_MS - 1 },
      false,
      /run for too long/,
    ],
    ['passes failing for 4 minutes', { failingSince: NOW - 4 * 60_000 }, true, undefined],
    [
      'passes failing past 5 minutes',
      { failingSince: NOW - FAILING_PASSES_MS - 1 },
      false,
      /applying has failed since/,
    ],
    ['polling stalled', { pollerHealthy: false }, false, /polling has stalled/],
  ])('%s', (_name, input, healthy, reason) => {
    const verdict = healthVerdict({ now: NOW, pollerHealthy: true, ...input });
    expect(verdict.healthy).toBe(healthy);
    if (!verdict.healthy) expect(verdict.reason).toMatch(reason!);
  });
});

const facts = { containers: [], locks: [] };
const app = (phase: AppPlan['phase']): Record<string, AppPlan> => ({
  a1: { appUuid: 'a1', appId: 1, phase, lockPaths: [] },
});

describe('agent/pass-metrics: counted per pass, not per status change', () => {
  function harness() {
    const applies: string[] = [];
    const locked: number[] = [];
    let now = NOW;
    const metrics = new PassMetrics(
      { recordApply: (r) => applies.push(r), addLockedSeconds: (_app, s) => locked.push(s) },
      () => now,
    );
    return { applies, locked, metrics, tick: (ms: number) => (now += ms) };
  }

  it('one failure per failed pass, one success when a pass converges after work', () => {
    const h = harness();
    const failed: PassOutcome = { kind: 'failed', error: 'engine down', ms: 100 };
    for (let i = 0; i < 4; i += 1) h.metrics.record(failed);
    h.metrics.record({ kind: 'progressed', facts, apps: app('applying changes'), steps: 2 });
    h.metrics.record({ kind: 'converged', facts, apps: app('done'), ms: 30_000 });
    h.metrics.record({ kind: 'converged', facts, apps: app('done'), ms: 30_000 }); // resync: no new apply
    expect(h.applies).toEqual(['failure', 'failure', 'failure', 'failure', 'success']);
  });

  it('accrues locked time between the passes that saw the app locked', () => {
    const h = harness();
    h.tick(1000);
    h.metrics.record({ kind: 'wait', facts, apps: app('locked'), ms: 2000, cause: 'locked' });
    h.tick(2500);
    h.metrics.record({ kind: 'wait', facts, apps: app('locked'), ms: 2000, cause: 'locked' });
    h.tick(500);
    h.metrics.record({ kind: 'progressed', facts, apps: app('applying changes'), steps: 1 });
    expect(h.locked).toEqual([1, 2.5]);
  });
});

describe('agent/ordered-handoff: targets reach the loop in the order they were accepted', () => {
  it('a quick preparation of a later target never overtakes a slow one of an earlier target', async () => {
    const delivered: string[] = [];
    const handoff = new OrderedHandoff<{ name: string; ms: number }>(
      ({ ms }) => sleep(ms),
      ({ name }) => delivered.push(name),
    );
    const first = handoff.hand({ name: 'A', ms: 60 });
    const second = handoff.hand({ name: 'B', ms: 0 });
    await Promise.all([first, second]);
    expect(delivered).toEqual(['A', 'B']);
  });

  it('a failed preparation still hands its target over, and later ones follow', async () => {
    const delivered: string[] = [];
    const handoff = new OrderedHandoff<string>(
      async (name) => {
        if (name === 'A') throw new Error('disk full');
      },
      (name) => delivered.push(name),
    );
    await Promise.allSettled([handoff.hand('A'), handoff.hand('B')]);
    expect(delivered).toEqual(['A', 'B']);
  });
});

describe('agent/report-refresher: one rebuild per burst of changes', () => {
  it('folds a burst into one rebuild, and a change during a rebuild into one more', async () => {
    let builds = 0;
    const refresher = new ReportRefresher(async () => {
      builds += 1;
      await sleep(30);
    }, 20);
    for (let i = 0; i < 10; i += 1) refresher.request();
    await sleep(35); // the rebuild runs now
    for (let i = 0; i < 10; i += 1) refresher.request();
    await refresher.flush();
    expect(builds).toBe(2);
  });
});
