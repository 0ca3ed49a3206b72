import { describe, expect, it } from '@jest/globals';
import { deepMerge } from '../../../src/fleet/deep-merge.js';
import { buildTargetDocument, effectiveConfig, ifNoneMatchHits } from '../../../src/fleet/target-document.js';

const inputs = {
  deviceUuid: 'dev-1',
  deviceName: 'kitchen-pi',
  config: { B: '2', A: '1' },
  app: { id: 12, uuid: 'app-uuid', name: 'sensor-app' },
};

describe('fleet/target-document', () => {
  it('builds the contract shape with an empty releases map before the first push', () => {
    const { json } = buildTargetDocument(inputs);
    expect(JSON.parse(json)).toEqual({
      'dev-1': {
        name: 'kitchen-pi',
        config: { A: '1', B: '2' },
        apps: { 'app-uuid': { id: 12, name: 'sensor-app', class: 'fleet', releases: {} } },
      },
    });
  });

  it('gives the same bytes and ETag for the same inputs, whatever the config order', () => {
    const a = buildTargetDocument(inputs);
    const b = buildTargetDocument({ ...inputs, config: { A: '1', B: '2' } });
    expect(b).toEqual(a);
    expect(a.etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    expect(buildTargetDocument({ ...inputs, deviceName: 'other' }).etag).not.toBe(a.etag);
  });

  it('lets device config override fleet config', () => {
    expect(effectiveConfig({ X: 'fleet', Y: 'fleet' }, { X: 'device' })).toEqual({ X: 'device', Y: 'fleet' });
  });

  it('matches If-None-Match exactly, in a list, weakly, or as *', () => {
    const etag = '"abc"';
    expect(ifNoneMatchHits('"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('"x", "abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('W/"abc"', etag)).toBe(true);
    expect(ifNoneMatchHits('*', etag)).toBe(true);
    expect(ifNoneMatchHits('"abcd"', etag)).toBe(false);
    expect(ifNoneMatchHits(undefined, etag)).toBe(false);
  });
});

describe('fleet/deep-merge', () => {
  it('merges maps recursively, replaces scalars and arrays, and removes keys sent as null', () => {
    const base = {
      status: 'Idle',
      update_locks: [{ path: 'a' }],
      apps: { u: { release_uuid: 'r1', releases: { r1: { update_status: 'done' } } } },
    };
    const merged = deepMerge(base, {
      update_locks: [],
      target_error: null,
      apps: { u: { releases: { r1: null, r2: { update_status: 'downloading' } } } },
    });
    expect(merged).toEqual({
      status: 'Idle',
      update_locks: [],
      apps: {
        u: {
          release_uuid: 'r1',
          releases: { r2: { update_status: 'downloading' } },
        },
      },
    });
    expect(base.update_locks).toEqual([{ path: 'a' }]);
  });

  it('ignores prototype keys from untrusted input', () => {
    const merged = deepMerge({}, JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}')) as Record<
      string,
      unknown
    >;
    expect(merged).toEqual({ ok: 1 });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
