import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { deviceObject, startTestAgent, unique, type TestAgent } from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { DEMO_1, DEMO_2 } from '../../helpers/images.js';

describe('agent (real engine): local mode smoke', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('brings a release up and moves to the next one', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 7001,
        releaseUuid: r1,
        releaseId: 1,
        services: { main: { image: DEMO_1 } },
      }),
    );
    const first = (await waitReleaseRunning(t, appUuid, r1)).main!;
    expect(first.name).toBe(`main_101_1_${r1}`);
    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 7001,
        releaseUuid: r2,
        releaseId: 2,
        services: { main: { image: DEMO_2 } },
      }),
    );
    await waitReleaseRunning(t, appUuid, r2);
    const state = await t.api('GET', '/v2/applications/state');
    expect(state.status).toBe(200);
    expect(JSON.stringify(state.body)).toContain(r2);
  });
});
