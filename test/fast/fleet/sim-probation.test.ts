/**
 * A simulated fleet (real backend, real agents over in-memory engines) where a tenth of the
 * devices fail the new release on probation: those go back to the old release by themselves and
 * say why; the rest keep the new one.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { waitFor } from '../../helpers/wait.js';
import { SimFleet } from '../../helpers/fleet-sim.js';

const DEVICES = 20;
const FAILING = 2;

describe('simulated fleet: probation and automatic rollback (backend + 20 agents)', () => {
  let sim: SimFleet;
  beforeAll(async () => {
    sim = await SimFleet.start({ devices: DEVICES, device: { config: { updateProbation: '2s' } } });
  }, 60_000);
  afterAll(async () => {
    await sim?.cleanup();
  }, 60_000);

  it('devices whose new release crashes roll back to the old one; the others keep the new one', async () => {
    const first = await sim.push({ main: 'sim/app:1' });
    await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
    const second = await sim.push({ main: 'sim/app:2' });
    const failing = sim.devices.slice(0, FAILING);
    // On these devices the new release's service crashes soon after it starts.
    await Promise.all(
      failing.map(async (device) => {
        const running = await waitFor(
          'the new release running',
          async () =>
            (await device.engine.listContainers(device.uuid)).find(
              (c) => c.releaseUuid === second.commit && c.status === 'running',
            ),
          20_000,
        );
        device.engine.simulateExit(running.id, 1);
      }),
    );
    const others = sim.devices.slice(FAILING).map((d) => d.uuid);
    await sim.waitForRelease(second.commit, { uuids: others, timeoutMs: 40_000 });
    const rolledBack = await sim.waitForDevices(
      'failing devices back on the old release',
      failing.map((d) => d.uuid),
      (d) => d.reportedRelease === first.commit && d.updateStatus === 'rolled back',
      20_000,
    );
    for (const device of rolledBack) {
      expect(device.rollbackReason).toBe('service main exited with code 1');
    }
    // Probation over: the good devices committed the new release and still run it.
    await waitFor(
      'probation over everywhere',
      () => sim.devices.every((d) => d.agent.loop.status.apps[sim.appUuid]?.probationEndsAt === undefined),
      15_000,
    );
    const devices = await sim.listDevices();
    const onNew = devices.filter((d) => d.reportedRelease === second.commit && d.updateStatus === 'done');
    expect(onNew.map((d) => d.uuid).sort()).toEqual([...others].sort());
    for (const device of failing) {
      const containers = await device.engine.listContainers(device.uuid);
      expect(containers.map((c) => [c.releaseUuid, c.status])).toEqual([[first.commit, 'running']]);
    }
  }, 90_000);
});
