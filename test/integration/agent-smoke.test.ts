import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { REGISTRY } from '../helpers/docker.js';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../helpers/agent.js';

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
        services: { main: { image: `${REGISTRY}/bosun/demo:1` } },
      }),
    );
    const first = await waitFor('release 1 running', async () => {
      const cs = await t.containers();
      return cs.length === 1 && cs[0]!.status === 'running' && cs[0]!.releaseUuid === r1 ? cs[0] : undefined;
    });
    expect(first!.name).toBe(`main_101_1_${r1}`);
    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 7001,
        releaseUuid: r2,
        releaseId: 2,
        services: { main: { image: `${REGISTRY}/bosun/demo:2` } },
      }),
    );
    await waitFor('release 2 running alone', async () => {
      const cs = await t.containers();
      return cs.length === 1 && cs[0]!.status === 'running' && cs[0]!.releaseUuid === r2;
    });
    const state = await t.api('GET', '/v2/applications/state');
    expect(state.status).toBe(200);
    expect(JSON.stringify(state.body)).toContain(r2);
  });
});
