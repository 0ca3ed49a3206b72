import { describe, expect, it } from '@jest/globals';
import {
  advanceProbation,
  clearedFailure,
  probationFailure,
  releaseToApply,
  type AppHistory,
} from '../../../src/policy/probation.js';
import { app, container, service } from '../../helpers/builders.js';

const NOW = 1_000_000;
const main = service('main', { image: 'reg/main:2', imageId: 2 });
const checked = service('web', {
  image: 'reg/web:2',
  imageId: 3,
  composition: {
    restart: 'always',
    networkMode: 'none',
    volumes: [],
    dependsOn: [],
    stopGracePeriodSec: 10,
    healthcheck: { test: ['CMD', 'true'] },
  },
});
const good = app('a1', 1, { uuid: 'good', id: 1, services: [service('main', { image: 'reg/main:1' })] });
const next = app('a1', 1, { uuid: 'next', id: 2, services: [main, checked] });
const goodRecord = { uuid: 'good', release: good.release! };
const nextRecord = { uuid: 'next', release: next.release! };

describe('policy/probation: what fails a release on probation', () => {
  it.each([
    ['running well', {}, {}, false, undefined],
    ['exited 0 (a one-shot job)', { status: 'exited', exitCode: 0 }, {}, false, undefined],
    ['exited 1', { status: 'exited', exitCode: 1 }, {}, false, 'service main exited with code 1'],
    ['restarted twice', { restartCount: 2 }, {}, false, undefined],
    ['restarted three times', { restartCount: 3 }, {}, false, 'service main restarted 3 times'],
    ['unhealthy', {}, { health: 'unhealthy' }, false, 'service web is unhealthy'],
    [
      'still starting at the end',
      {},
      { health: 'starting' },
      true,
      'service web was not healthy when probation ended (starting)',
    ],
    ['healthy at the end', {}, { health: 'healthy' }, true, undefined],
  ] as const)('%s', (_name, mainOver, webOver, over, expected) => {
    const containers = [container(next, main, mainOver), container(next, checked, webOver)];
    expect(probationFailure(next.release!, containers, over)).toBe(expected);
  });
});

describe('policy/probation: the history of one app', () => {
  it('a new release that runs starts probation, keeping the one before for a rollback', () => {
    const result = advanceProbation(
      { current: goodRecord },
      { release: next.release!, applied: true, containers: [], now: NOW, probationMs: 60_000 },
    );
    expect(result.event).toBe('probation started');
    expect(result.history).toEqual({
      current: nextRecord,
      previous: goodRecord,
      probationEndsAt: NOW + 60_000,
    });
  });

  it('probation 0 commits at once: nothing kept, no rollback', () => {
    const result = advanceProbation(
      { current: goodRecord },
      { release: next.release!, applied: true, containers: [], now: NOW, probationMs: 0 },
    );
    expect(result).toEqual({ history: { current: nextRecord }, event: 'committed' });
  });

  it('a failure during probation rolls back to the release before, and remembers why', () => {
    const history: AppHistory = { current: nextRecord, previous: goodRecord, probationEndsAt: NOW + 60_000 };
    const crashed = [container(next, main, { status: 'exited', exitCode: 1 })];
    const result = advanceProbation(history, {
      release: next.release!,
      applied: true,
      containers: crashed,
      now: NOW + 5_000,
      probationMs: 60_000,
    });
    expect(result.event).toBe('rolled back');
    expect(result.history).toEqual({
      current: goodRecord,
      failed: { uuid: 'next', reason: 'service main exited with code 1', outcome: 'rolled back' },
    });
    // From then on the release to apply is the good one, while the target still names the failed one.
    expect(releaseToApply(result.history, next.release)).toBe(good.release);
    // Applying it again starts no new probation: it is the current release.
    const after = advanceProbation(result.history, {
      release: good.release!,
      applied: true,
      containers: [],
      now: NOW + 6_000,
      probationMs: 60_000,
    });
    expect(after).toEqual({ history: result.history });
  });

  it('with no release before, a failed release is reported unhealthy and left running', () => {
    const history: AppHistory = { current: nextRecord, probationEndsAt: NOW + 60_000 };
    const result = advanceProbation(history, {
      release: next.release!,
      applied: true,
      containers: [container(next, checked, { health: 'unhealthy' })],
      now: NOW,
      probationMs: 60_000,
    });
    expect(result.event).toBe('unhealthy');
    expect(result.history.failed).toEqual({
      uuid: 'next',
      reason: 'service web is unhealthy',
      outcome: 'unhealthy',
    });
    expect(releaseToApply(result.history, next.release)).toBe(next.release);
  });

  it('a release that ran well to the end of probation is committed and the one before dropped', () => {
    const history: AppHistory = { current: nextRecord, previous: goodRecord, probationEndsAt: NOW };
    const healthy = [container(next, main), container(next, checked, { health: 'healthy' })];
    const result = advanceProbation(history, {
      release: next.release!,
      applied: true,
      containers: healthy,
      now: NOW,
      probationMs: 60_000,
    });
    expect(result).toEqual({ history: { current: nextRecord }, event: 'committed' });
  });

  it('a failure is forgotten once the target names another release, or a force asks for it', () => {
    const failed: AppHistory = {
      current: goodRecord,
      failed: { uuid: 'next', reason: 'x', outcome: 'rolled back' },
    };
    expect(clearedFailure(failed, 'next', false)).toBe(failed);
    expect(clearedFailure(failed, 'newer', false)).toEqual({ current: goodRecord });
    expect(clearedFailure(failed, 'next', true)).toEqual({ current: goodRecord });
  });
});
