/**
 * A release that fails probation (contract section 10) on a fixed share of a simulated fleet:
 * its container exits with code 1 shortly after it starts, on the devices chosen here. They are
 * chosen from the rollout's own order (src/fleet/rollout-plan.ts), evenly spread through it, so
 * a test knows them before any wave opens, and the first device of the order (a first wave of
 * one device) never fails. Nothing but the simulated fleet reads this.
 */
import type { ScheduledExit } from '../../src/engine/memory-engine.js';
import { LABELS, type ContainerInfo } from '../../src/engine/types.js';
import { rolloutOrder } from '../../src/fleet/rollout-plan.js';

export interface FailingRelease {
  /** Containers of this image fail (the release's only service, in the simulated fleet). */
  image: string;
  /** The share of the fleet's devices it fails on: a whole number from 1 to 99. */
  percent: number;
  /** How long after a start the container exits: well within the devices' probation. */
  afterMs: number;
  /** Every device the rollout covers, as the backend orders them (its unpinned devices). */
  fleet: string[];
}

/** A whole number from 1 to 99, or a clear error naming what was given. */
export function parseFailPercent(text: string): number {
  const percent = Number(text);
  if (!Number.isInteger(percent) || percent < 1 || percent > 99) {
    throw new Error(`--fail-percent takes a whole number from 1 to 99, not "${text}"`);
  }
  return percent;
}

/**
 * Whether the device at `position` (0-based) of the rollout order fails: every (100 / percent)th
 * device, counted from the first, so `percent`% of any whole number of hundreds fail and
 * position 0 never does (5%: positions 19, 39, 59, ...).
 */
export function failsAt(position: number, percent: number): boolean {
  return Math.floor(((position + 1) * percent) / 100) > Math.floor((position * percent) / 100);
}

/** The devices a release fails on, in rollout order. */
export function failingDevices(fleet: string[], releaseUuid: string, percent: number): string[] {
  return rolloutOrder(fleet, releaseUuid).filter((_, position) => failsAt(position, percent));
}

/**
 * MemoryEngine's exitAfterStart for one failing release: a container of its image exits with
 * code 1 `afterMs` after it starts when its device is one the release fails on (the release is
 * the container's own, read from its labels, since the order depends on it).
 */
export function crashOnFailingDevices(
  failing: FailingRelease,
): (container: ContainerInfo) => ScheduledExit | undefined {
  const byRelease = new Map<string, Set<string>>();
  return (container) => {
    if (container.image !== failing.image) return undefined;
    let failed = byRelease.get(container.releaseUuid);
    if (failed === undefined) {
      failed = new Set(failingDevices(failing.fleet, container.releaseUuid, failing.percent));
      byRelease.set(container.releaseUuid, failed);
    }
    return failed.has(container.labels[LABELS.deviceUuid] ?? '')
      ? { afterMs: failing.afterMs, exitCode: 1 }
      : undefined;
  };
}
