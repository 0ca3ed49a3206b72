import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { PushedRelease } from '../../../src/fleet/api-types.js';
import { parseCompose } from '../../../src/fleet/compose.js';
import { FleetError } from '../../../src/fleet/errors.js';
import { rolloutOrder } from '../../../src/fleet/rollout-plan.js';
import { FleetStore } from '../../../src/fleet/store.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';

const DEVICES = 10;
const uuidOf = (i: number) => `device-${String(i).padStart(4, '0')}`;
const keyOf = (uuid: string) => `key-of-${uuid}`;
const T0 = new Date('2026-03-01T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

async function failureOf(action: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await action();
  } catch (err) {
    if (err instanceof FleetError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a FleetError');
}

describe.each(FLEET_BACKENDS)('fleet/rollout-store on %s', (backend) => {
  const databases = new TestDatabases(backend);
  let location: string;
  let store: FleetStore;
  let appUuid: string;
  let first: PushedRelease;
  const uuids = Array.from({ length: DEVICES }, (_, i) => uuidOf(i));

  const push = (image: string, rollout?: Parameters<FleetStore['fleets']['createRelease']>[4], now = T0) =>
    store.fleets.createRelease('kitchen', parseCompose({ services: { main: { image } } }), '', now, rollout);

  /** The release each device is given, in uuid order (its target document). */
  const targets = async (on = store) =>
    Promise.all(
      uuids.map(async (uuid) => {
        const target = await on.devices.target(uuid);
        return Object.keys(JSON.parse(target!.target_json)[uuid].apps[appUuid].releases)[0];
      }),
    );

  /** A device reports `commit` as `status` (running `running`), as an agent would. */
  const report = (
    uuid: string,
    commit: string,
    status: string,
    extra: Record<string, unknown> = {},
    now = T0,
  ) =>
    store.devices.mergeReports(
      {
        [uuid]: {
          apps: {
            [appUuid]: {
              release_uuid: status === 'done' ? commit : first.commit,
              releases: { [commit]: { update_status: status, ...extra } },
            },
          },
        },
      },
      keyOf(uuid),
      now,
    );

  const waveOf = async (wave: number, on = store) =>
    (await on.devices.list('kitchen')).filter((d) => d.rollout?.wave === wave).map((d) => d.uuid);

  beforeEach(async () => {
    location = await databases.fresh();
    store = await FleetStore.open(location);
    const { provisioningKey, appUuid: app } = await store.fleets.create('kitchen');
    appUuid = app;
    for (const uuid of uuids) {
      await store.devices.register({ uuid, fleet: 'kitchen', deviceApiKey: keyOf(uuid) }, provisioningKey);
    }
    first = await push('app:1');
    for (const uuid of uuids) await report(uuid, first.commit, 'done');
  });

  afterEach(async () => {
    await store.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  it('records a plain push as a rollout of one wave, complete once every device is done', async () => {
    expect(first.rollout).toMatchObject({ state: 'running', waveSpec: '100%', openedWaves: 1 });
    const status = await store.rollouts.status('kitchen');
    expect(status).toMatchObject({ state: 'complete', release: { id: first.id }, previousRelease: null });
    expect(status.waves).toEqual([
      { wave: 1, size: DEVICES, devices: DEVICES, done: DEVICES, failed: 0, pending: 0, state: 'settled' },
    ]);
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(first.id);
  });

  it('assigns devices to waves in a stable order and gives the release to opened waves only', async () => {
    const second = await push('app:2', { waves: '1,50%,100%' });
    expect(second.rollout).toMatchObject({ state: 'running', openedWaves: 1, waveSpec: '1,50%,100%' });
    expect(second.rollout.waves.map((w) => w.size)).toEqual([1, 4, 5]);
    const order = rolloutOrder(uuids, second.commit);
    expect(await waveOf(1)).toEqual(order.slice(0, 1));
    expect((await waveOf(2)).sort()).toEqual(order.slice(1, 5).sort());
    const given = await targets();
    expect(uuids.filter((_, i) => given[i] === second.commit)).toEqual(order.slice(0, 1));
    // The fleet's target moves only once every device may have the release.
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(first.id);

    // On probation: not done yet.
    await report(order[0]!, second.commit, 'done', { probation_ends_at: T0.toISOString() });
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(1);
    // Probation over (the device drops the key): wave 2 opens.
    await report(order[0]!, second.commit, 'done', { probation_ends_at: null });
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(2);
    const afterWave2 = await targets();
    expect(uuids.filter((_, i) => afterWave2[i] === second.commit).sort()).toEqual(order.slice(0, 5).sort());

    for (const uuid of order.slice(1, 5)) await report(uuid, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(3);
    expect(await targets()).toEqual(uuids.map(() => second.commit));
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(second.id);
    for (const uuid of order.slice(5)) await report(uuid, second.commit, 'done');
    const done = await store.rollouts.status('kitchen');
    expect(done).toMatchObject({ state: 'complete', openedWaves: 3, failures: [] });
    expect(done.waves.map((w) => [w.done, w.state])).toEqual([
      [1, 'settled'],
      [4, 'settled'],
      [5, 'settled'],
    ]);
  });

  it('halts when failures pass --max-failures: no further wave; rolled-back devices stay back', async () => {
    const second = await push('app:2', { waves: '1,50%,100%', maxFailures: '1' });
    const order = rolloutOrder(uuids, second.commit);
    await report(order[0]!, second.commit, 'done');
    const wave2 = order.slice(1, 5);
    await report(wave2[0]!, second.commit, 'rolled back', {
      rollback_reason: 'service main exited with code 1',
    });
    expect((await store.rollouts.status('kitchen')).state).toBe('running');
    await report(wave2[1]!, second.commit, 'unhealthy');
    const halted = await store.rollouts.status('kitchen');
    expect(halted).toMatchObject({
      state: 'halted',
      openedWaves: 2,
      reason: '2 devices failed in waves 1-2, more than --max-failures 1',
    });
    expect(halted.failures).toEqual([
      { uuid: wave2[0], wave: 2, reason: 'rolled back: service main exited with code 1' },
      { uuid: wave2[1], wave: 2, reason: 'unhealthy' },
    ]);
    // The rest of wave 2 finishes; still nothing more opens.
    for (const uuid of wave2.slice(2)) await report(uuid, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(2);
    const given = await targets();
    for (const uuid of order.slice(5)) expect(given[uuids.indexOf(uuid)]).toBe(first.commit);
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(first.id);

    // A halted rollout is not resumed; it can be aborted, and a new release pushed over it.
    expect(await failureOf(() => store.rollouts.resume('kitchen'))).toMatchObject({
      code: 'EFLEET_CONFLICT',
    });
    const third = await push('app:3');
    expect(third.rollout.state).toBe('running');
    expect(await targets()).toEqual(uuids.map(() => third.commit));
  });

  it('aborts: every device of the opened waves goes back to its previous release', async () => {
    const second = await push('app:2', { waves: '1,50%,100%' });
    const order = rolloutOrder(uuids, second.commit);
    await report(order[0]!, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(2);
    expect(await store.rollouts.abort('kitchen')).toMatchObject({ state: 'aborted', openedWaves: 2 });
    expect(await targets()).toEqual(uuids.map(() => first.commit));
    expect(await failureOf(() => store.rollouts.abort('kitchen'))).toMatchObject({ code: 'EFLEET_CONFLICT' });
    // An aborted rollout no longer moves, whatever its devices report.
    await report(order[1]!, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(2);
  });

  it('aborts a plain push too: the fleet goes back to its previous target', async () => {
    const second = await push('app:2');
    expect(await targets()).toEqual(uuids.map(() => second.commit));
    await store.rollouts.abort('kitchen');
    expect(await targets()).toEqual(uuids.map(() => first.commit));
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(first.id);
  });

  it('pauses and resumes: no wave opens while paused', async () => {
    const second = await push('app:2', { waves: '1,100%' });
    const order = rolloutOrder(uuids, second.commit);
    expect((await store.rollouts.pause('kitchen')).state).toBe('paused');
    expect(await failureOf(() => store.rollouts.pause('kitchen'))).toMatchObject({ code: 'EFLEET_CONFLICT' });
    await report(order[0]!, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(1);
    expect(await store.rollouts.resume('kitchen')).toMatchObject({ state: 'running', openedWaves: 2 });
  });

  it('opens the next wave only once its devices stayed done for --wave-wait', async () => {
    const second = await push('app:2', { waves: '1,100%', waveWait: '60s' });
    const order = rolloutOrder(uuids, second.commit);
    await report(order[0]!, second.commit, 'done', {}, at(1_000));
    const waiting = await store.rollouts.status('kitchen', at(60_999));
    expect(waiting).toMatchObject({ openedWaves: 1, nextCheckAt: at(61_000).toISOString() });
    // The device's poll (the backend reads rollout_check_at with the device's row) sees it due.
    expect((await store.devices.pollState(order[1]!))?.rollout_check_at).toBe(at(61_000).toISOString());
    expect(await store.rollouts.status('kitchen', at(61_000))).toMatchObject({
      openedWaves: 2,
      nextCheckAt: null,
    });
  });

  it('limits a rollout to tagged devices with --only; the others keep their release, the fleet its target', async () => {
    const tagged = uuids.slice(0, 4);
    for (const uuid of tagged)
      expect(await store.devices.changeTags(uuid, { set: { ring: 'canary' }, remove: [] })).toEqual({
        ring: 'canary',
      });
    await store.devices.changeTags(uuids[0]!, { set: { site: 'berlin' }, remove: [] });
    expect(await store.devices.tags(uuids[0]!)).toEqual({ ring: 'canary', site: 'berlin' });
    expect((await store.devices.list('kitchen', { ring: 'canary' })).map((d) => d.uuid)).toEqual(tagged);
    expect(
      (await store.devices.list('kitchen', { ring: 'canary', site: 'berlin' })).map((d) => d.uuid),
    ).toEqual([uuids[0]]);

    const second = await push('app:2', { only: { ring: 'canary' } });
    expect(second.rollout.waves.map((w) => w.size)).toEqual([4]);
    const given = await targets();
    expect(given).toEqual(uuids.map((uuid) => (tagged.includes(uuid) ? second.commit : first.commit)));
    for (const uuid of tagged) await report(uuid, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).state).toBe('complete');
    expect(await targets()).toEqual(given);
    expect((await store.fleets.summary('kitchen')).targetRelease?.id).toBe(first.id);

    // Untagged, a device keeps the release it was given; a plain push then moves every device.
    await store.devices.changeTags(uuids[0]!, { set: {}, remove: ['ring', 'site'] });
    expect(await store.devices.tags(uuids[0]!)).toEqual({});
    expect((await targets())[0]).toBe(second.commit);
    expect(await failureOf(() => push('app:3', { only: { ring: 'nobody' } }))).toMatchObject({
      code: 'EFLEET_BAD_INPUT',
      message: 'no unpinned device of fleet kitchen is tagged ring=nobody',
    });
  });

  it('leaves pinned devices out of the waves and never touches them', async () => {
    await store.devices.pin(uuids[0]!, String(first.id));
    const second = await push('app:2', { waves: '1,100%' });
    expect(second.rollout.waves.map((w) => w.size)).toEqual([1, 8]);
    expect((await store.devices.list('kitchen')).find((d) => d.uuid === uuids[0])?.rollout).toBeNull();
    const order = rolloutOrder(uuids.slice(1), second.commit);
    await report(order[0]!, second.commit, 'done');
    expect((await store.rollouts.status('kitchen')).openedWaves).toBe(2);
    expect((await targets())[0]).toBe(first.commit);
  });

  it('refuses bad input and a second staged rollout with nothing changed', async () => {
    const releasesBefore = (await store.fleets.listReleases('kitchen')).length;
    for (const [waves, message] of [
      ['0', /at least one device/],
      ['110%', /more than 100%/],
      ['10,5', /must grow/],
      ['', /at least one wave/],
    ] as const) {
      expect(await failureOf(() => push('app:2', { waves }))).toMatchObject({
        code: 'EFLEET_BAD_INPUT',
        message: expect.stringMatching(message),
      });
    }
    expect(await failureOf(() => push('app:2', { maxFailures: 'x' }))).toMatchObject({
      code: 'EFLEET_BAD_INPUT',
    });
    expect(await failureOf(() => push('app:2', { waveWait: 'soon' }))).toMatchObject({
      code: 'EFLEET_BAD_INPUT',
    });
    expect(await failureOf(() => push('app:2', { only: { 'bad key': 'x' } }))).toMatchObject({
      code: 'EFLEET_BAD_INPUT',
    });
    expect(
      await failureOf(() => store.fleets.setTargetRelease('kitchen', 'ffffffff', { waves: '1,100%' })),
    ).toMatchObject({
      code: 'EFLEET_NOT_FOUND',
    });
    expect(await failureOf(() => store.rollouts.status('garage'))).toMatchObject({
      code: 'EFLEET_NOT_FOUND',
    });
    expect((await store.fleets.listReleases('kitchen')).length).toBe(releasesBefore);

    const second = await push('app:2', { waves: '1,100%' });
    const before = await targets();
    expect(await failureOf(() => push('app:3'))).toMatchObject({
      code: 'EFLEET_CONFLICT',
      message: expect.stringMatching(/rollout of release \d+ is running .*abort it first/),
    });
    expect(await failureOf(() => store.fleets.setTargetRelease('kitchen', String(first.id)))).toMatchObject({
      code: 'EFLEET_CONFLICT',
    });
    expect((await store.fleets.listReleases('kitchen')).map((r) => r.id)).toEqual([first.id, second.id]);
    expect(await targets()).toEqual(before);
    expect((await store.rollouts.status('kitchen')).release.id).toBe(second.id);
  });

  it('carries on after a restart, and two backends on one database agree', async () => {
    const second = await push('app:2', { waves: '1,50%,100%' });
    const order = rolloutOrder(uuids, second.commit);
    const wavesBefore = await Promise.all([1, 2, 3].map((w) => waveOf(w)));
    await store.close();
    store = await FleetStore.open(location);
    const other = await FleetStore.open(location);
    try {
      expect(await Promise.all([1, 2, 3].map((w) => waveOf(w, other)))).toEqual(wavesBefore);
      await report(order[0]!, second.commit, 'done');
      // Reports of wave 2 through both backends: at once on PostgreSQL. (Two SQLite connections
      // in one process cannot interleave transactions: the second would block the event loop.)
      const reportVia = (uuid: string, i: number) =>
        (i % 2 === 0 ? store : other).devices.mergeReports(
          {
            [uuid]: {
              apps: {
                [appUuid]: {
                  release_uuid: second.commit,
                  releases: { [second.commit]: { update_status: 'done' } },
                },
              },
            },
          },
          keyOf(uuid),
        );
      const wave2 = order.slice(1, 5);
      if (backend === 'postgres') await Promise.all(wave2.map(reportVia));
      else for (const [i, uuid] of wave2.entries()) await reportVia(uuid, i);
      expect(await other.rollouts.status('kitchen')).toMatchObject({ state: 'running', openedWaves: 3 });
      expect(await targets(other)).toEqual(await targets(store));
      expect(await targets(other)).toEqual(uuids.map(() => second.commit));
    } finally {
      await other.close();
    }
  });
});
