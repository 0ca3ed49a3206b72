import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deviceObject, sleep, startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { appContainers, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';

const V2_APP_ID = 9502;

/** balena's older v2 local shape, as `balena push <device ip>` sends it. */
function v2Local(commit: string, image: string) {
  return {
    local: {
      name: 'v2-device',
      config: { SUPERVISOR_POLL_INTERVAL: '60000' },
      apps: {
        [String(V2_APP_ID)]: {
          name: 'v2app',
          commit,
          releaseId: 3,
          services: {
            '1': {
              serviceName: 'main',
              imageId: 301,
              image,
              environment: { MODE: 'v2' },
              labels: {},
              running: true,
              networkMode: 'none',
              stop_grace_period: '1s',
            },
          },
          volumes: {},
          networks: {},
        },
      },
    },
  };
}

describe('local API (real agent): /v2/local/target-state in local mode', () => {
  let t: TestAgent;

  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('applies a v3 device object and answers it back under state.local', async () => {
    const appUuid = unique('app');
    const releaseUuid = unique('rel');
    const device = deviceObject({
      appUuid,
      appId: 9501,
      releaseUuid,
      releaseId: 1,
      services: { main: { image: LOCKER_1 } },
    });
    const reply = await t.api('POST', '/v2/local/target-state', device);
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({ status: 'success', message: 'OK' });
    const running = await waitReleaseRunning(t, appUuid, releaseUuid);
    expect(running.main!.name).toBe(`main_101_1_${releaseUuid}`);

    const got = await t.api('GET', '/v2/local/target-state');
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ status: 'success', state: { local: device } });

    // A client's round trip: what GET answered, posted back as it came, is the same target.
    const roundTrip = await t.api('POST', '/v2/local/target-state', (got.body as { state: unknown }).state);
    expect([roundTrip.status, roundTrip.body]).toEqual([200, { status: 'success', message: 'OK' }]);
    const same = await appContainers(t, appUuid);
    expect(same.map((c) => c.id)).toEqual([running.main!.id]);
  });

  it("applies balena's v2 { local: ... } shape", async () => {
    const commit = unique('rel');
    const reply = await t.api('POST', '/v2/local/target-state', v2Local(commit, LOCKER_2));
    expect(reply.status).toBe(200);
    const running = await waitReleaseRunning(t, String(V2_APP_ID), commit);
    expect(running.main).toMatchObject({ name: `main_301_3_${commit}`, appId: V2_APP_ID, image: LOCKER_2 });
    // the v3 app of the previous target is gone
    await waitFor('the previous app removed', async () =>
      (await t.containers()).every((c) => c.appUuid === String(V2_APP_ID)),
    );
    const device = await t.api('GET', '/v1/device');
    expect(device.body).toMatchObject({ commit, name: 'v2-device', local_mode: true, target_error: null });

    const got = await t.api('GET', '/v2/local/target-state');
    const local = (got.body as { state: { local: { name: string } } }).state.local;
    expect(local.name).toBe('v2-device');
    expect(JSON.stringify(local)).toContain(commit);
  });

  it('GET then POST of the same state (a client round trip) is accepted', async () => {
    const got = await t.api('GET', '/v2/local/target-state');
    const { state } = got.body as { state: unknown };
    const reply = await t.api('POST', '/v2/local/target-state', state);
    expect([reply.status, reply.text]).toEqual([200, expect.any(String)]);
    const again = await t.api('POST', '/v2/local/target-state', (state as { local: unknown }).local);
    expect(again.status).toBe(200);
  });

  it('answers 400 with the reason to an invalid document, and the running release keeps running', async () => {
    const before = await appContainers(t, String(V2_APP_ID));
    expect(before).toHaveLength(1);
    const appUuid = unique('app');
    const broken = {
      apps: {
        [appUuid]: {
          id: 9503,
          releases: { [unique('rel')]: { id: 1, services: { main: { id: 1, image_id: 1 } } } },
        },
      },
    };
    const reply = await t.api('POST', '/v2/local/target-state', broken);
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ status: 'failed', message: expect.stringMatching(/image/) });
    const notAnObject = await t.api('POST', '/v2/local/target-state', ['not', 'a', 'device']);
    expect(notAnObject.status).toBe(400);
    const badV2 = await t.api('POST', '/v2/local/target-state', { local: { apps: { 'not-a-number': {} } } });
    expect(badV2.status).toBe(400);
    expect(badV2.body).toEqual({ status: 'failed', message: expect.stringContaining('not-a-number') });

    await sleep(1_000); // a few loop passes: nothing of the running app may change
    const after = await appContainers(t, String(V2_APP_ID));
    expect(after.map((c) => [c.id, c.status])).toEqual(before.map((c) => [c.id, 'running']));
    expect((await t.containers()).some((c) => c.appUuid === appUuid)).toBe(false);
    const got = await t.api('GET', '/v2/local/target-state');
    expect((got.body as { state: { local: { name: string } } }).state.local.name).toBe('v2-device');
    const device = await t.api('GET', '/v1/device');
    expect((device.body as { target_error: string | null }).target_error).toEqual(expect.any(String));
  });
});
