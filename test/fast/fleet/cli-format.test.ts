import { describe, expect, it } from '@jest/globals';
import type { DeviceView } from '../../../src/fleet/api-types.js';
import { ago, devicesTable, summarizeRollout } from '../../../src/fleet/cli-format.js';
import { deviceView } from '../../../src/fleet/device-view.js';

const NOW = new Date('2026-01-01T12:00:00Z');
const TARGET = { id: 2, commit: 'bbbbbbbbbbbb' };

function device(report: unknown, overrides: Partial<DeviceView> = {}): DeviceView {
  return {
    ...deviceView({
      uuid: 'dev-1',
      name: 'dev-1',
      fleet: 'kitchen',
      appUuid: 'app',
      targetRelease: TARGET,
      pinned: false,
      report,
      lastSeen: '2026-01-01T11:59:30Z',
      registeredAt: '2026-01-01T00:00:00Z',
    }),
    ...overrides,
  };
}

const onRelease = (release: string, status?: string, extra: Record<string, unknown> = {}) => ({
  ...extra,
  apps: {
    app: { release_uuid: release, releases: { [TARGET.commit]: status ? { update_status: status } : {} } },
  },
});

describe('fleet/device-view', () => {
  it('reads release, status, progress and locks from a report, tolerating junk', () => {
    const view = device({
      status: 'Downloading',
      update_locks: [
        { app_uuid: 'app', service: 'main', path: '/tmp/balena/updates.lock', since: 0 },
        'bare/path',
        42,
      ],
      target_error: 'bad doc',
      apps: {
        app: {
          release_uuid: 'aaaa',
          releases: {
            [TARGET.commit]: {
              update_status: 'downloading',
              services: { a: { download_progress: 20 }, b: { download_progress: 61 }, c: {} },
            },
          },
        },
      },
    });
    expect(view).toMatchObject({
      reportedRelease: 'aaaa',
      status: 'Downloading',
      updateStatus: 'downloading',
      downloadProgress: 41,
      targetError: 'bad doc',
      updateLocks: [
        {
          appUuid: 'app',
          service: 'main',
          path: '/tmp/balena/updates.lock',
          since: '1970-01-01T00:00:00.000Z',
        },
        { appUuid: null, service: null, path: 'bare/path', since: null },
      ],
    });
    expect(device('not an object')).toMatchObject({
      reportedRelease: null,
      updateStatus: null,
      updateLocks: [],
    });
  });
});

describe('fleet/cli-format', () => {
  it('puts each device in exactly one rollout bucket', () => {
    const summary = summarizeRollout([
      device(onRelease(TARGET.commit, 'done')),
      device(onRelease('old', 'downloading')),
      device(onRelease('old', 'locked')),
      device(onRelease('old', undefined, { update_locks: ['/x'] })),
      device(onRelease('old', 'rejected')),
      device(onRelease('old', undefined, { target_error: 'nope' })),
      device(onRelease('old', 'applying changes')),
      device({}),
    ]);
    expect(summary).toEqual({
      total: 8,
      onTarget: 1,
      downloading: 1,
      locked: 2,
      failed: 2,
      updating: 1,
      pending: 1,
    });
  });

  it('renders the devices table with short releases, lock paths and ages', () => {
    const text = devicesTable(
      [
        device(
          onRelease('aaaaaaaaaa', 'locked', {
            update_locks: [
              { service: 'main', path: '/tmp/balena/updates.lock', since: '2026-01-01T11:55:00Z' },
            ],
          }),
        ),
      ],
      NOW,
    );
    expect(text.split('\n')[1]).toBe(
      'dev-1   kitchen  aaaaaaa -> bbbbbbb  locked  -         main:/tmp/balena/updates.lock since 5m ago  30s ago',
    );
  });

  it('says how long ago things happened', () => {
    expect(ago(null, NOW)).toBe('-');
    expect(ago('2026-01-01T10:00:00Z', NOW)).toBe('2h ago');
    expect(ago('2025-12-30T12:00:00Z', NOW)).toBe('2d ago');
  });
});
