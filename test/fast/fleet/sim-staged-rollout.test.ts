/**
 * A staged rollout (contract section 12) to a simulated fleet of 40 real agents with probation
 * on: `--rollout 1,10%,100% --max-failures 1`. The release crashes on two devices of wave 2,
 * which roll back by themselves; that is more failures than allowed, so the rollout halts after
 * wave 2 and the devices of wave 3 never receive the release. The backend is restarted on the
 * way: the rollout carries on from the database. An abort then puts the opened waves back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { PushedRelease, RolloutView } from '../../../src/fleet/api-types.js';
import { rolloutOrder } from '../../../src/fleet/rollout-plan.js';
import { waitFor } from '../../helpers/wait.js';
import { SimFleet, type SimDevice } from '../../helpers/fleet-sim.js';

const DEVICES = 40;

describe('simulated fleet: staged rollout halted by probation failures (backend + 40 agents)', () => {
  let sim: SimFleet;
  let first: PushedRelease;

  beforeAll(async () => {
    sim = await SimFleet.start({ devices: DEVICES, device: { config: { updateProbation: '2s' } } });
    first = await sim.push({ main: 'sim/app:1' });
    await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
  }, 60_000);

  afterAll(async () => {
    await sim?.cleanup();
  }, 60_000);

  const status = async (): Promise<RolloutView> => sim.client.rolloutStatus(sim.fleet);

  /** Makes the device's container of `commit` exit 1 as soon as it runs (within its probation). */
  const crashOn = async (device: SimDevice, commit: string) => {
    const running = await waitFor(
      `the new release running on ${device.uuid}`,
      async () =>
        (await device.engine.listContainers(device.uuid)).find(
          (c) => c.releaseUuid === commit && c.status === 'running',
        ),
      30_000,
      20,
    );
    device.engine.simulateExit(running.id, 1);
  };

  it('halts after the wave where failures pass --max-failures; later waves never get the release', async () => {
    const second = await sim.push({ main: 'sim/app:2' }, { waves: '1,10%,100%', maxFailures: '1' });
    expect(second.rollout.waves.map((w) => w.size)).toEqual([1, 3, 36]);
    const order = rolloutOrder(
      sim.devices.map((d) => d.uuid),
      second.commit,
    );
    const [wave1, wave2, wave3] = [order.slice(0, 1), order.slice(1, 4), order.slice(4)];
    // The backend goes away and comes back on the same database: the rollout is all in there.
    await sim.stopBackend();
    await sim.startBackend();

    const crashing = wave2.slice(0, 2);
    const crashes = Promise.all(crashing.map((uuid) => crashOn(sim.device(uuid), second.commit)));
    // Wave 1 passes once its device's probation is over; only then does wave 2 open.
    await sim.waitForRelease(second.commit, { uuids: wave1, timeoutMs: 40_000 });
    await crashes;
    await sim.waitForDevices(
      'the crashing devices of wave 2 rolled back',
      crashing,
      (d) => d.reportedRelease === first.commit && d.updateStatus === 'rolled back',
    );
    const halted = await waitFor('the rollout halted', async () => {
      const view = await status();
      return view.state === 'halted' ? view : undefined;
    });
    expect(halted).toMatchObject({
      openedWaves: 2,
      reason: '2 devices failed in waves 1-2, more than --max-failures 1',
    });
    expect(halted.failures.map((f) => [f.uuid, f.wave, f.reason]).sort()).toEqual(
      crashing.map((uuid) => [uuid, 2, 'rolled back: service main exited with code 1']).sort(),
    );
    // The third device of wave 2 keeps the new release once its probation is over.
    await sim.waitForRelease(second.commit, { uuids: wave2.slice(2), timeoutMs: 40_000 });
    await waitFor('wave 2 settled', async () => (await status()).waves[1]?.state === 'settled');

    const view = await status();
    expect(view.state).toBe('halted');
    expect(view.waves.map((w) => [w.devices, w.done, w.failed, w.state])).toEqual([
      [1, 1, 0, 'settled'],
      [3, 1, 2, 'settled'],
      [36, 0, 0, 'waiting'],
    ]);
    const devices = await sim.listDevices();
    for (const device of devices.filter((d) => wave3.includes(d.uuid))) {
      expect(device).toMatchObject({
        targetRelease: { commit: first.commit },
        reportedRelease: first.commit,
        rollout: { wave: 3, opened: false },
      });
    }
    for (const uuid of wave3) {
      const device = sim.device(uuid);
      expect(await device.engine.hasImage('sim/app:2')).toBe(false);
      const containers = await device.engine.listContainers(uuid);
      expect(containers.map((c) => c.releaseUuid)).toEqual([first.commit]);
    }
    // Rolled back devices stay on their earlier release; the good ones keep the new one.
    for (const uuid of crashing) {
      const containers = await sim.device(uuid).engine.listContainers(uuid);
      expect(containers.map((c) => [c.releaseUuid, c.status])).toEqual([[first.commit, 'running']]);
    }

    const text = await sim.cli('rollout', 'status', sim.fleet);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('halted: 2 devices failed in waves 1-2, more than --max-failures 1');
    expect(text.stdout).toMatch(/^3\/3\s+36\s+0\s+0\s+36\s+waiting$/m);
  }, 90_000);

  it('abort puts every device of the opened waves back on the previous release', async () => {
    const aborted = await sim.cli('rollout', 'abort', sim.fleet);
    expect(aborted.code).toBe(0);
    const devices = await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
    expect(devices.every((d) => d.targetRelease?.commit === first.commit)).toBe(true);
    expect((await status()).state).toBe('aborted');
  }, 60_000);
});
