/**
 * Issue 13 at scale: a fleet of 1,000 real agents over in-memory engines (two worker processes,
 * scripts/bench/fleet-sim-processes.ts) polling a `bosun fleet serve` process (the shipped
 * bundle, on a SQLite file). Release 2 rolls out `1,10%,100%` with `--max-failures 4%` and fails
 * probation on 5% of the devices: its container exits 1 half a second after it starts on every
 * 20th device of the rollout order (scripts/bench/sim-failures.ts; never the first wave's one),
 * which then rolls back by itself. Wave 2 holds 5 of them among 99 devices, 5% of the 100 opened:
 * the rollout halts after wave 2, and the 900 devices of wave 3 never receive the release.
 *
 * Runs compiled code (the test command builds first), in the `scale` jest project, alone.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeviceView, RolloutView } from '../../../src/fleet/api-types.js';
import { FleetClient } from '../../../src/fleet/client.js';
import { rolloutOrder } from '../../../src/fleet/rollout-plan.js';
import {
  splitDevices,
  startBackendProcess,
  startSimWorkers,
  type BackendProcess,
  type SimWorker,
} from '../../../scripts/bench/fleet-sim-processes.js';
import type { DeviceSnapshot, WorkerJob } from '../../../scripts/bench/fleet-sim-worker.js';
import { failingDevices } from '../../../scripts/bench/sim-failures.js';
import { requireBuilt, requireShippedCli } from '../../helpers/shipped-cli.js';
import { waitFor } from '../../helpers/wait.js';

const DEVICES = 1000;
const WORKERS = 2;
const FLEET = 'scale';
const TOKEN = 'scale-test-manager-token';
/** The agent's minimum poll interval: each wave waits on polls. */
const POLL_MS = 1000;
/** Short, yet long enough for the crash (half a second after the start) to fall inside it. */
const PROBATION = '2s';
const FAIL_PERCENT = 5;
const OLD_IMAGE = 'sim/app:1';
const NEW_IMAGE = 'sim/app:2';
/** Every wait is on a condition; these bounds only decide when a stuck run gives up. */
const SETUP_TIMEOUT_MS = 150_000;
const ROLLOUT_TIMEOUT_MS = 90_000;

function compose(image: string): string {
  return `services:\n  main:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n`;
}

/** The devices of `uuids` for which `wrong` finds something amiss, each with what it found. */
function amiss<T>(
  uuids: string[],
  byUuid: Map<string, T>,
  wrong: (item: T | undefined) => unknown,
): unknown[] {
  return uuids.flatMap((uuid) => {
    const found = wrong(byUuid.get(uuid));
    return found ? [{ uuid, found }] : [];
  });
}

/** A snapshot's containers as [release, image, status] rows. */
const containerRows = (snapshot: DeviceSnapshot | undefined) =>
  snapshot?.containers.map((c) => [c.releaseUuid, c.image, c.status]);

describe('fleet at scale: a 1,000-device staged rollout halted by probation failures', () => {
  let root: string;
  let backend: BackendProcess | undefined;
  let workers: SimWorker[] = [];
  let client: FleetClient;
  let uuids: string[];
  let firstCommit: string;

  const status = (): Promise<RolloutView> => client.rolloutStatus(FLEET);

  beforeAll(async () => {
    const cli = requireShippedCli();
    const workerFile = requireBuilt('scripts/bench/fleet-sim-worker.js');
    root = mkdtempSync(path.join(tmpdir(), 'bosun-scale-rollout-'));
    backend = await startBackendProcess({ cli, database: path.join(root, 'fleet.db'), token: TOKEN });
    client = new FleetClient({ url: backend.url, token: TOKEN });
    const created = await client.createFleet(FLEET);
    const jobs: WorkerJob[] = splitDevices(DEVICES, WORKERS).map(({ first, count }) => ({
      root: path.join(root, 'devices'),
      url: backend!.url,
      fleet: FLEET,
      provisioningKey: created.provisioningKey,
      first,
      count,
      pollMs: POLL_MS,
      reportMs: 500,
      pullDelayMs: [50, 200],
      probation: PROBATION,
      // No local API: a thousand listening sockets nobody calls; this test talks to the backend
      // and the workers only.
      localApi: false,
    }));
    workers = await startSimWorkers(workerFile, jobs, { together: true });
    uuids = workers.flatMap((w) => w.uuids);
    expect(new Set(uuids).size).toBe(DEVICES);

    // Every device has registered: release 1 goes to all of them as a one-wave rollout, which
    // is complete once each has run it through its probation.
    const first = await client.pushRelease(FLEET, compose(OLD_IMAGE));
    firstCommit = first.commit;
    expect(first.rollout.waves.map((w) => w.size)).toEqual([DEVICES]);
    await waitFor(
      'release 1 done on every device',
      async () => (await status()).state === 'complete',
      SETUP_TIMEOUT_MS,
      500,
    );
    // From now on release 2 fails on its share of the fleet, whatever its commit turns out to be.
    const release = { image: NEW_IMAGE, percent: FAIL_PERCENT, afterMs: 500, fleet: uuids };
    await Promise.all(workers.map((w) => w.ask({ type: 'fail', release }, 'failing')));
  }, SETUP_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await backend?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it(
    'halts after wave 2, where failures pass --max-failures; wave 3 never receives the release',
    async () => {
      const second = await client.pushRelease(FLEET, compose(NEW_IMAGE), {
        waves: '1,10%,100%',
        maxFailures: '4%',
      });
      expect(second.rollout.waves.map((w) => w.size)).toEqual([1, 99, 900]);
      const order = rolloutOrder(uuids, second.commit);
      const [wave1, wave2, wave3] = [order.slice(0, 1), order.slice(1, 100), order.slice(100)];
      const failing = new Set(failingDevices(uuids, second.commit, FAIL_PERCENT));
      expect(failing.size).toBe(DEVICES * (FAIL_PERCENT / 100));
      const failed = wave2.filter((uuid) => failing.has(uuid));
      const passed = [...wave1, ...wave2.filter((uuid) => !failing.has(uuid))];
      expect([wave1.filter((uuid) => failing.has(uuid)).length, failed.length]).toEqual([0, 5]);

      const halted = await waitFor(
        'the rollout to stop running',
        async () => {
          const view = await status();
          return view.state === 'running' ? undefined : view;
        },
        ROLLOUT_TIMEOUT_MS,
        500,
      );
      expect(halted).toMatchObject({
        state: 'halted',
        openedWaves: 2,
        reason:
          '5 devices failed in waves 1-2, more than --max-failures 4% of the 100 devices in opened waves',
      });
      // Wave 2's other devices go on to finish their probation; nothing more opens.
      const view = await waitFor(
        'wave 2 settled',
        async () => {
          const now = await status();
          return now.waves[1]?.state === 'settled' ? now : undefined;
        },
        ROLLOUT_TIMEOUT_MS,
        500,
      );
      expect(view.state).toBe('halted');
      expect(view.waves.map((w) => [w.devices, w.done, w.failed, w.state])).toEqual([
        [1, 1, 0, 'settled'],
        [99, 94, 5, 'settled'],
        [900, 0, 0, 'waiting'],
      ]);
      expect(view.failures.map((f) => [f.uuid, f.wave, f.reason]).sort()).toEqual(
        failed.map((uuid) => [uuid, 2, 'rolled back: service main exited with code 1']).sort(),
      );

      // The backend's view of each device.
      const devices = new Map(
        (await client.listDevices(FLEET)).map((d) => [d.uuid, d] as [string, DeviceView]),
      );
      expect(devices.size).toBe(DEVICES);
      expect(
        amiss(wave3, devices, (d) => {
          const ok =
            d?.targetRelease?.commit === firstCommit &&
            d.reportedRelease === firstCommit &&
            d.rollout?.wave === 3 &&
            d.rollout.opened === false;
          return (
            !ok && { target: d?.targetRelease?.commit, reported: d?.reportedRelease, rollout: d?.rollout }
          );
        }),
      ).toEqual([]);
      expect(
        amiss(failed, devices, (d) => {
          const ok =
            d?.targetRelease?.commit === second.commit &&
            d.reportedRelease === firstCommit &&
            d.updateStatus === 'rolled back' &&
            d.rollout?.wave === 2 &&
            d.rollout.outcome === 'failed';
          return !ok && { reported: d?.reportedRelease, status: d?.updateStatus, rollout: d?.rollout };
        }),
      ).toEqual([]);
      expect(
        amiss(passed, devices, (d) => {
          const ok =
            d?.reportedRelease === second.commit &&
            d.updateStatus === 'done' &&
            d.rollout?.outcome === 'done';
          return !ok && { reported: d?.reportedRelease, status: d?.updateStatus, rollout: d?.rollout };
        }),
      ).toEqual([]);

      // The devices themselves: wave 3 never pulled the new image and runs release 1; the devices
      // that failed probation run release 1 again; the others run release 2.
      const snapshots = new Map(
        (await Promise.all(workers.map((w) => w.ask({ type: 'inspect', image: NEW_IMAGE }, 'inspected'))))
          .flatMap((answer) => answer.devices)
          .map((s) => [s.uuid, s] as [string, DeviceSnapshot]),
      );
      const running = (commit: string, image: string) => JSON.stringify([[commit, image, 'running']]);
      expect(
        amiss(wave3, snapshots, (s) => {
          const ok =
            s?.pulls === 0 &&
            !s.hasImage &&
            JSON.stringify(containerRows(s)) === running(firstCommit, OLD_IMAGE);
          return !ok && { pulls: s?.pulls, hasImage: s?.hasImage, containers: containerRows(s) };
        }),
      ).toEqual([]);
      expect(
        amiss(failed, snapshots, (s) => {
          const ok =
            (s?.pulls ?? 0) > 0 && JSON.stringify(containerRows(s)) === running(firstCommit, OLD_IMAGE);
          return !ok && { pulls: s?.pulls, containers: containerRows(s) };
        }),
      ).toEqual([]);
      expect(
        amiss(passed, snapshots, (s) => {
          const ok = JSON.stringify(containerRows(s)) === running(second.commit, NEW_IMAGE);
          return !ok && { containers: containerRows(s) };
        }),
      ).toEqual([]);
    },
    2 * ROLLOUT_TIMEOUT_MS + 30_000,
  );
});
