import { describe, expect, it } from '@jest/globals';
import { appDataDir, appLockPaths, handoverMarkerPaths, serviceLockDir } from '../../../src/locks/paths.js';

const layout = { lockDir: '/tmp/bosun/services', dataDir: '/var/lib/bosun' };

describe('locks/paths', () => {
  it('lists both per-service lock files for every service (sorted, deduplicated) and the /data lock once', () => {
    expect(appLockPaths(layout, 42, ['worker', 'main', 'worker'])).toEqual([
      {
        hostPath: '/tmp/bosun/services/42/main/updates.lock',
        containerPath: '/tmp/balena/updates.lock',
        serviceName: 'main',
      },
      {
        hostPath: '/tmp/bosun/services/42/main/resin-updates.lock',
        containerPath: '/tmp/resin/resin-updates.lock',
        serviceName: 'main',
      },
      {
        hostPath: '/tmp/bosun/services/42/worker/updates.lock',
        containerPath: '/tmp/balena/updates.lock',
        serviceName: 'worker',
      },
      {
        hostPath: '/tmp/bosun/services/42/worker/resin-updates.lock',
        containerPath: '/tmp/resin/resin-updates.lock',
        serviceName: 'worker',
      },
      {
        hostPath: '/var/lib/bosun/apps/42/data/resin-updates.lock',
        containerPath: '/data/resin-updates.lock',
      },
    ]);
  });

  it('an app with no services still has its /data lock', () => {
    expect(appLockPaths(layout, 7, [])).toEqual([
      {
        hostPath: '/var/lib/bosun/apps/7/data/resin-updates.lock',
        containerPath: '/data/resin-updates.lock',
      },
    ]);
  });

  it('mount sources match the contract: the service lock dir and the app /data dir', () => {
    expect(serviceLockDir(layout, 42, 'main')).toBe('/tmp/bosun/services/42/main');
    expect(appDataDir(layout, 42)).toBe('/var/lib/bosun/apps/42/data');
  });

  it('hand-over markers live in the service lock dir, under both names', () => {
    expect(handoverMarkerPaths(layout, 42, 'main')).toEqual([
      '/tmp/bosun/services/42/main/handover-complete',
      '/tmp/bosun/services/42/main/resin-kill-me',
    ]);
  });
});
