import { describe, it, expect } from '@jest/globals';
import { diffReport, jsonEqual } from '../../../src/cloud/report-diff.js';

describe('cloud/report-diff diffReport', () => {
  const base = {
    api_port: 48484,
    status: 'Idle',
    update_locks: [] as unknown[],
    target_error: null,
    apps: {
      a1: {
        release_uuid: 'r1',
        releases: {
          r1: {
            update_status: 'done',
            services: {
              main: { image: 'img:1', status: 'Running', download_progress: null },
              side: { image: 'side:1', status: 'Running', download_progress: null },
            },
          },
        },
      },
    },
  };
  const clone = () => structuredClone(base);

  it('is empty when nothing changed', () => {
    expect(diffReport(base, clone())).toEqual({});
  });

  it('sends everything against an empty baseline', () => {
    expect(diffReport({}, base)).toEqual(base);
  });

  it('sends only the changed leaf of a deep object', () => {
    const next = clone();
    next.apps.a1.releases.r1.services.side.status = 'exited';
    expect(diffReport(base, next)).toEqual({
      apps: { a1: { releases: { r1: { services: { side: { status: 'exited' } } } } } },
    });
  });

  it('sends arrays whole when they changed', () => {
    const next = clone();
    next.update_locks = [{ app_uuid: 'a1', service: 'main', path: '/tmp/balena/updates.lock', since: 't' }];
    expect(diffReport(base, next)).toEqual({ update_locks: next.update_locks });
    const more = structuredClone(next);
    more.update_locks.push({
      app_uuid: 'a1',
      service: 'side',
      path: '/tmp/resin/resin-updates.lock',
      since: 'u',
    });
    expect(diffReport(next, more)).toEqual({ update_locks: more.update_locks });
  });

  it('sends null for keys that went away and whole objects for new ones', () => {
    const next = {
      ...clone(),
      apps: { a1: { release_uuid: 'r2', releases: { r2: { update_status: 'downloading', services: {} } } } },
    };
    expect(diffReport(base, next)).toEqual({
      apps: {
        a1: {
          release_uuid: 'r2',
          releases: { r1: null, r2: { update_status: 'downloading', services: {} } },
        },
      },
    });
  });

  it('treats null and a change from null as values', () => {
    const next = { ...clone(), target_error: 'bad document' };
    expect(diffReport(base, next)).toEqual({ target_error: 'bad document' });
    expect(diffReport(next, base)).toEqual({ target_error: null });
  });

  it('does not modify its inputs', () => {
    const prev = clone();
    const next = clone();
    next.status = 'Downloading';
    diffReport(prev, next);
    expect(prev).toEqual(base);
    expect(next.status).toBe('Downloading');
  });
});

describe('cloud/report-diff jsonEqual', () => {
  it.each<[unknown, unknown, boolean]>([
    [1, 1, true],
    [null, null, true],
    [null, {}, false],
    [[], [], true],
    [[1, [2]], [1, [2]], true],
    [[1, 2], [2, 1], false],
    [{ a: 1, b: [1] }, { b: [1], a: 1 }, true],
    [{ a: 1 }, { a: 1, b: 2 }, false],
    [{ a: undefined }, { b: undefined }, false],
    [[], {}, false],
    ['1', 1, false],
  ])('%p vs %p -> %p', (a, b, expected) => {
    expect(jsonEqual(a, b)).toBe(expected);
  });
});
