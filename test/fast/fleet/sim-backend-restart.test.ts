/**
 * The fleet backend goes away in the middle of a rollout and comes back on the same db file and
 * port: nothing it knew is lost, the agents keep their keys, back off while it is down (no tight
 * retry loop) and converge once it is back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReleaseSummary } from '../../../src/fleet/api-types.js';
import { SimFleet, type SimDevice } from '../../helpers/fleet-sim.js';

const DEVICES = 100;
const DOWN_MS = 3_000;

/** Failed target polls the device has counted so far. */
async function failedPolls(device: SimDevice): Promise<number> {
  const metric = (await device.agent.metrics.registry()).getSingleMetric('bosun_polls_total');
  if (!metric) throw new Error('the agent has no bosun_polls_total metric');
  const { values } = await metric.get();
  return values.filter((v) => v.labels.result === 'error').reduce((sum, v) => sum + v.value, 0);
}

describe('simulated fleet: fleet backend restarted mid-rollout', () => {
  let sim: SimFleet;
  let first: ReleaseSummary;
  let pinned: string;

  beforeAll(async () => {
    sim = await SimFleet.start({ devices: DEVICES, fleet: 'restart' });
    first = await sim.push({ main: 'sim/app:1' });
    await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
    pinned = sim.devices[0]!.uuid;
    expect((await sim.cli('pin', pinned, String(first.id))).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await sim?.cleanup();
  }, 60_000);

  it('loses nothing, and every device converges after the backend is back', async () => {
    const port = sim.backend.port;
    const second = await sim.push({ main: 'sim/app:2' });

    const registeredBefore = new Map((await sim.listDevices()).map((d) => [d.uuid, d.registeredAt]));
    // Mid-rollout: some devices have reported the new release done, not all of them.
    const doneBefore = async () =>
      (await sim.listDevices()).filter(
        (d) => d.reportedRelease === second.commit && d.updateStatus === 'done',
      ).length;
    let done = await doneBefore();
    while (done < 5) {
      await sleep(20);
      done = await doneBefore();
    }
    const errorsBefore = await Promise.all(sim.devices.map(failedPolls));
    await sim.stopBackend();
    expect(done).toBeLessThan(DEVICES - 1); // the pinned device never moves; most others had not polled yet

    await sleep(DOWN_MS);
    const errorsDuring = await Promise.all(sim.devices.map(failedPolls));
    const failures = errorsDuring.map((n, i) => n - errorsBefore[i]!);
    // Every device noticed the outage; none retried in a tight loop (the poll interval is 1 s).
    expect(Math.min(...failures)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...failures)).toBeLessThanOrEqual((DOWN_MS / 1000) * 5);

    const server = await sim.startBackend();
    expect(server.port).toBe(port);

    const others = sim.devices.map((d) => d.uuid).filter((u) => u !== pinned);
    const converged = await sim.waitForRelease(second.commit, { uuids: others, timeoutMs: 40_000 });
    expect(converged).toHaveLength(DEVICES - 1);

    // What the backend knew before is all there: fleet, releases, target, devices, pin, reports.
    const fleets = await sim.client.listFleets();
    expect(fleets).toEqual([
      expect.objectContaining({
        name: 'restart',
        appUuid: sim.appUuid,
        deviceCount: DEVICES,
        targetRelease: { id: second.id, commit: second.commit },
      }),
    ]);
    const releases = await sim.client.listReleases('restart');
    expect(releases.map((r) => r.commit)).toEqual([first.commit, second.commit]);
    const devices = await sim.listDevices();
    expect(devices).toHaveLength(DEVICES);
    expect(devices.find((d) => d.uuid === pinned)).toMatchObject({
      pinned: true,
      targetRelease: { commit: first.commit },
      reportedRelease: first.commit,
      updateStatus: 'done',
    });
    // No device registered again: each kept the key it had, and the backend kept its record.
    for (const device of devices) expect(device.registeredAt).toBe(registeredBefore.get(device.uuid));
    for (const device of sim.devices) {
      const containers = await device.engine.listContainers(device.uuid);
      expect(containers.map((c) => c.releaseUuid)).toEqual([
        device.uuid === pinned ? first.commit : second.commit,
      ]);
    }
  });
});
