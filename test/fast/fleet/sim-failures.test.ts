/** scripts/bench/sim-failures.ts: which devices of a simulated fleet a failing release fails on. */
import { describe, expect, it } from '@jest/globals';
import { LABELS, type ContainerInfo } from '../../../src/engine/types.js';
import { rolloutOrder } from '../../../src/fleet/rollout-plan.js';
import {
  crashOnFailingDevices,
  failingDevices,
  failsAt,
  parseFailPercent,
} from '../../../scripts/bench/sim-failures.js';

const fleet = Array.from({ length: 1000 }, (_, i) => `device-${String(i).padStart(4, '0')}`);

function container(deviceUuid: string, image: string, releaseUuid: string): ContainerInfo {
  return {
    id: 'c1',
    name: `main_1_1_${releaseUuid}`,
    image,
    status: 'running',
    appId: 1,
    appUuid: 'app',
    serviceName: 'main',
    serviceId: 1,
    imageId: 1,
    releaseId: 1,
    releaseUuid,
    configHash: 'hash',
    labels: { [LABELS.deviceUuid]: deviceUuid },
    createdAt: '2030-01-01T00:00:00.000Z',
  };
}

describe('scripts/bench/sim-failures', () => {
  it('fails every (100 / percent)th position, never the first', () => {
    const positions = (percent: number, count: number) =>
      Array.from({ length: count }, (_, p) => p).filter((p) => failsAt(p, percent));
    expect(positions(5, 100)).toEqual([19, 39, 59, 79, 99]);
    expect(positions(50, 6)).toEqual([1, 3, 5]);
    for (const percent of [1, 3, 5, 33, 99]) {
      expect(positions(percent, 1000)).toHaveLength(10 * percent);
      expect(failsAt(0, percent)).toBe(false);
    }
  });

  it('picks the devices from the rollout order of the release', () => {
    const order = rolloutOrder(fleet, 'release-2');
    const failing = failingDevices(fleet, 'release-2', 5);
    // 5%: every 20th device of the order, from the 20th on.
    expect(failing).toEqual(order.filter((_, p) => p % 20 === 19));
    expect(failing).toHaveLength(50);
    // Another release, another order: other devices.
    expect(failingDevices(fleet, 'release-3', 5)).not.toEqual(failing);
  });

  it('crashes only containers of the failing image on the devices the release fails on', () => {
    const crash = crashOnFailingDevices({ image: 'sim/app:2', percent: 5, afterMs: 500, fleet });
    const [fails] = failingDevices(fleet, 'release-2', 5);
    const passes = rolloutOrder(fleet, 'release-2')[0]!;
    expect(crash(container(fails!, 'sim/app:2', 'release-2'))).toEqual({ afterMs: 500, exitCode: 1 });
    expect(crash(container(passes, 'sim/app:2', 'release-2'))).toBeUndefined();
    expect(crash(container(fails!, 'sim/app:1', 'release-2'))).toBeUndefined();
  });

  it('takes a whole percentage from 1 to 99', () => {
    expect(parseFailPercent('5')).toBe(5);
    for (const bad of ['0', '100', '2.5', 'five', ''])
      expect(() => parseFailPercent(bad)).toThrow('--fail-percent takes a whole number from 1 to 99');
  });
});
