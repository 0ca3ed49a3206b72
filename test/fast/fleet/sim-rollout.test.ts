/**
 * A simulated fleet of 100 real agents (in-memory engines, real lock files on disk) against a real
 * fleet backend: a rollout, update locks that hold some devices back, what the fleet CLI shows
 * about them, the three ways past a lock (release, cloud override, local force), a pin, and a
 * roll-back of the whole fleet.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeviceView, ReleaseSummary } from '../../../src/fleet/api-types.js';
import { waitFor } from '../../helpers/wait.js';
import { SimFleet } from '../../helpers/fleet-sim.js';

const DEVICES = 100;
const LOCKED = 10;

describe('simulated fleet: rollout with update locks (fleet backend + 100 agents)', () => {
  let sim: SimFleet;
  let first: ReleaseSummary;
  let second: ReleaseSummary;
  let locked: string[];
  let pinned: string;

  beforeAll(async () => {
    sim = await SimFleet.start({ devices: DEVICES });
    locked = sim.devices.slice(0, LOCKED).map((d) => d.uuid);
    pinned = sim.devices[LOCKED]!.uuid;
  }, 60_000);

  afterAll(async () => {
    await sim?.cleanup();
  }, 60_000);

  const others = () => sim.devices.map((d) => d.uuid).filter((u) => !locked.includes(u) && u !== pinned);

  it('registers every device and rolls a release out to all of them', async () => {
    expect((await sim.listDevices()).length).toBe(DEVICES);
    first = await sim.push({ main: 'sim/app:1' });
    const devices = await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
    for (const device of devices) {
      expect(device).toMatchObject({ reportedRelease: first.commit, updateStatus: 'done', updateLocks: [] });
    }
    const sample = sim.devices[0]!;
    const containers = await sample.engine.listContainers(sample.uuid);
    expect(containers.map((c) => [c.serviceName, c.image, c.releaseUuid, c.status])).toEqual([
      ['main', 'sim/app:1', first.commit, 'running'],
    ]);
  });

  it('holds locked devices on the old release, downloaded, while the rest update; a pin holds too', async () => {
    await Promise.all(locked.map((uuid) => sim.device(uuid).takeLock(sim.appId)));
    const pin = await sim.cli('pin', pinned, first.commit.slice(0, 10));
    expect(pin).toMatchObject({ code: 0 });

    second = await sim.push({ main: 'sim/app:2' });
    await sim.waitForRelease(second.commit, { uuids: others(), timeoutMs: 40_000 });
    const held = await sim.waitForDevices(
      'locked devices to report locked',
      locked,
      (d) => d.updateStatus === 'locked' && d.updateLocks.length > 0,
    );
    for (const device of held) {
      expect(device.reportedRelease).toBe(first.commit);
      expect(device.targetRelease?.commit).toBe(second.commit);
      expect(device.downloadProgress).toBe(100);
      expect(device.updateLocks).toEqual([
        {
          appUuid: sim.appUuid,
          service: 'main',
          path: '/tmp/balena/updates.lock',
          since: expect.any(String),
          deadline: null, // no lock deadline on these devices
        },
      ]);
    }
    for (const uuid of locked) {
      const device = sim.device(uuid);
      // Downloads never wait for a lock: the new image is here, the old container still runs.
      expect(await device.engine.hasImage('sim/app:2')).toBe(true);
      const containers = await device.engine.listContainers(uuid);
      expect(containers.map((c) => [c.releaseUuid, c.status])).toEqual([[first.commit, 'running']]);
    }
    const [pinView] = (await sim.listDevices()).filter((d) => d.uuid === pinned);
    expect(pinView).toMatchObject({
      pinned: true,
      targetRelease: { commit: first.commit },
      reportedRelease: first.commit,
      updateStatus: 'done',
    });
  });

  it('`bosun fleet devices` shows which devices are blocked and by which lock', async () => {
    const table = await sim.cli('devices', '--fleet', sim.fleet);
    expect(table.code).toBe(0);
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^DEVICE\s+FLEET\s+RELEASE\s+STATUS\s+PROGRESS\s+BLOCKED BY\s+LAST SEEN$/);
    expect(rows).toHaveLength(DEVICES + 1);
    const blocked = rows.filter((row) => row.includes('main:/tmp/balena/updates.lock'));
    expect(blocked.map((row) => row.split(/\s+/)[0]).sort()).toEqual([...locked].sort());
    for (const row of blocked) {
      expect(row).toMatch(
        new RegExp(
          `${first.commit.slice(0, 7)} -> ${second.commit.slice(0, 7)}\\s+locked\\s+100%\\s+main:/tmp/balena/updates.lock since \\d+s ago`,
        ),
      );
    }
    const pinRow = rows.find((row) => row.startsWith(pinned));
    expect(pinRow).toMatch(
      new RegExp(`^${pinned}\\s+${sim.fleet}\\s+${first.commit.slice(0, 7)} \\(pinned\\)\\s+done\\s`),
    );

    const asJson = await sim.cli('devices', '--fleet', sim.fleet, '--json');
    const views = JSON.parse(asJson.stdout) as DeviceView[];
    expect(
      views
        .filter((d) => d.updateLocks.length > 0)
        .map((d) => d.uuid)
        .sort(),
    ).toEqual([...locked].sort());
  });

  it('converges a locked device as soon as its app releases the lock', async () => {
    const released = locked.slice(0, 4);
    const start = Date.now();
    await Promise.all(released.map((uuid) => sim.device(uuid).releaseLock(sim.appId)));
    await sim.waitForRelease(second.commit, { uuids: released, timeoutMs: 40_000 });
    // The lock watcher wakes the loop: no poll interval or backoff to sit out.
    expect(Date.now() - start).toBeLessThan(8_000);
    const still = await sim.listDevices();
    for (const uuid of locked.slice(4)) {
      expect(still.find((d) => d.uuid === uuid)).toMatchObject({
        reportedRelease: first.commit,
        updateStatus: 'locked',
      });
    }
  });

  it('converges one locked device on a device-local POST /v1/update {force: true}', async () => {
    const uuid = locked[4]!;
    const device = sim.device(uuid);
    const answer = await device.api('POST', '/v1/update', { force: true });
    expect(answer.status).toBe(204);
    await sim.waitForRelease(second.commit, { uuids: [uuid], timeoutMs: 40_000 });
    // Under the override the agent removed the app's lock itself.
    expect(await device.lockExists(sim.appId)).toBe(false);
    const rest = (await sim.listDevices()).filter((d) => locked.slice(5).includes(d.uuid));
    expect(rest.map((d) => d.updateStatus)).toEqual(Array(LOCKED - 5).fill('locked'));
  });

  it('converges the rest under the fleet config SUPERVISOR_OVERRIDE_LOCK=1, though their apps keep the locks', async () => {
    const rest = locked.slice(5);
    for (const uuid of rest) expect(await sim.device(uuid).lockExists(sim.appId)).toBe(true);
    const set = await sim.cli('config', 'set', sim.fleet, 'SUPERVISOR_OVERRIDE_LOCK=1');
    expect(set.code).toBe(0);
    await sim.waitForRelease(second.commit, { uuids: rest, timeoutMs: 40_000 });
    for (const uuid of rest) {
      const device = sim.device(uuid);
      const containers = await device.engine.listContainers(uuid);
      expect(containers.map((c) => [c.releaseUuid, c.status])).toEqual([[second.commit, 'running']]);
      // Under the override the agent removed the user locks itself (and logged each path).
      expect(await device.lockExists(sim.appId)).toBe(false);
    }
    const unset = await sim.cli('config', 'unset', sim.fleet, 'SUPERVISOR_OVERRIDE_LOCK');
    expect(unset.code).toBe(0);
  });

  it('keeps the pinned device on its release through all of it, and moves it once unpinned', async () => {
    const device = sim.device(pinned);
    const containers = await device.engine.listContainers(pinned);
    expect(containers.map((c) => [c.releaseUuid, c.status])).toEqual([[first.commit, 'running']]);
    expect(await device.engine.hasImage('sim/app:2')).toBe(false);
    const everyone = await sim.listDevices();
    expect(
      everyone.filter((d) => d.reportedRelease === second.commit && d.updateStatus === 'done'),
    ).toHaveLength(DEVICES - 1);

    const unpin = await sim.cli('unpin', pinned);
    expect(unpin.code).toBe(0);
    await sim.waitForRelease(second.commit, { timeoutMs: 40_000 });
  });

  it('rolls the whole fleet back to the first release; each device re-pulls it and drops the bad one', async () => {
    const sample = sim.devices[LOCKED + 1]!;
    await waitFor('the first release image cleaned up after the update', async () => {
      return !(await sample.engine.hasImage('sim/app:1'));
    });
    const back = await sim.cli('rollback', sim.fleet, String(first.id));
    expect(back.code).toBe(0);
    const devices = await sim.waitForRelease(first.commit, { timeoutMs: 40_000 });
    expect(devices.every((d) => d.updateStatus === 'done')).toBe(true);
    await waitFor('the bad release image cleaned up', async () => {
      return !(await sample.engine.hasImage('sim/app:2'));
    });
    expect(await sample.engine.hasImage('sim/app:1')).toBe(true);
  });
});
