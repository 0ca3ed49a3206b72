import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  TEST_API_KEY,
  deviceObject,
  rawApi,
  sleep,
  startTestAgent,
  unique,
  type TestAgent,
} from '../../helpers/agent.js';
import { containerEnv, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1 } from '../../helpers/images.js';

/**
 * The local API's keys against a real agent: balena's three ways to pass the global key, the open
 * routes, and an app-scoped key handed to a container labelled for the supervisor API.
 */
describe('local API (real agent): API keys', () => {
  let t: TestAgent;
  const apiApp = { appUuid: unique('app'), appId: 9101, releaseUuid: unique('rel') };
  const otherApp = { appUuid: unique('app'), appId: 9102, releaseUuid: unique('rel') };
  let appKey: string;
  let apiContainerId: string;

  beforeAll(async () => {
    t = await startTestAgent();
    const other = deviceObject({
      appUuid: otherApp.appUuid,
      appId: otherApp.appId,
      releaseUuid: otherApp.releaseUuid,
      releaseId: 1,
      services: { main: { image: LOCKER_1 } },
    });
    await t.setTarget(
      deviceObject({
        appUuid: apiApp.appUuid,
        appId: apiApp.appId,
        releaseUuid: apiApp.releaseUuid,
        releaseId: 1,
        services: {
          main: { image: LOCKER_1, labels: { 'io.balena.features.supervisor-api': '1' } },
          plain: { image: LOCKER_1 },
        },
        extraApps: other.apps as Record<string, unknown>,
      }),
    );
    const running = await waitReleaseRunning(t, apiApp.appUuid, apiApp.releaseUuid, ['main', 'plain']);
    await waitReleaseRunning(t, otherApp.appUuid, otherApp.releaseUuid, ['main']);
    apiContainerId = running.main!.id;
    const env = await containerEnv(apiContainerId);
    appKey = env.BALENA_SUPERVISOR_API_KEY!;
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  const port = () => t.agent.apiPort;

  it('takes the global key as ?apikey=, Bearer and ApiKey', async () => {
    const asQuery = await rawApi(port(), 'GET', `/v2/applications/state?apikey=${TEST_API_KEY}`);
    const asBearer = await rawApi(port(), 'GET', '/v2/applications/state', {
      headers: { Authorization: `Bearer ${TEST_API_KEY}` },
    });
    const asApiKey = await rawApi(port(), 'GET', '/v2/applications/state', {
      headers: { Authorization: `ApiKey ${TEST_API_KEY}` },
    });
    for (const reply of [asQuery, asBearer, asApiKey]) {
      expect(reply.status).toBe(200);
      expect(reply.text).toContain(apiApp.appUuid);
      expect(reply.text).toContain(otherApp.appUuid);
    }
  });

  it('answers 401 with the failed shape to no key and to a wrong key', async () => {
    const none = await rawApi(port(), 'GET', '/v2/applications/state');
    const wrongBearer = await rawApi(port(), 'GET', '/v1/device', {
      headers: { Authorization: 'Bearer nope' },
    });
    const wrongQuery = await rawApi(port(), 'POST', '/v1/update?apikey=nope');
    for (const reply of [none, wrongBearer, wrongQuery]) {
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual(expect.objectContaining({ status: 'failed', message: expect.any(String) }));
    }
  });

  it('leaves /ping and /v1/healthy open', async () => {
    const ping = await rawApi(port(), 'GET', '/ping');
    expect(ping.status).toBe(200);
    expect(ping.text).toBe('OK');
    expect((await rawApi(port(), 'GET', '/v1/healthy')).status).toBe(200);
  });

  it('gives a service labelled for the supervisor API its own app key, in balena and resin names', async () => {
    const env = await containerEnv(apiContainerId);
    expect(appKey).toMatch(/\S{16,}/);
    expect(appKey).not.toBe(TEST_API_KEY);
    expect(env.RESIN_SUPERVISOR_API_KEY).toBe(appKey);
    expect(env.BALENA_SUPERVISOR_PORT).toBe(String(port()));
    expect(env.BALENA_SUPERVISOR_ADDRESS).toBe(`http://127.0.0.1:${port()}`);
    // The unlabelled service of the same app, and the other app, get no key.
    const plain = (await t.containers()).find(
      (c) => c.appUuid === apiApp.appUuid && c.serviceName === 'plain',
    )!;
    expect((await containerEnv(plain.id)).BALENA_SUPERVISOR_API_KEY).toBeUndefined();
    const other = (await t.containers()).find((c) => c.appUuid === otherApp.appUuid)!;
    expect((await containerEnv(other.id)).BALENA_SUPERVISOR_API_KEY).toBeUndefined();
  });

  it('lets the app key reach its own app and answers 401 on another app', async () => {
    const auth = { headers: { Authorization: `Bearer ${appKey}` } };
    const own = await rawApi(port(), 'POST', `/v1/apps/${apiApp.appId}/start`, { ...auth, body: {} });
    expect(own.status).toBe(200);
    const ownState = await rawApi(port(), 'GET', '/v2/applications/state', auth);
    expect(ownState.status).toBe(200);
    expect(ownState.text).toContain(apiApp.appUuid);
    expect(ownState.text).not.toContain(otherApp.appUuid); // listings show the key's own app only
    const restartOwn = await rawApi(port(), 'POST', `/v2/applications/${apiApp.appId}/restart-service`, {
      ...auth,
      body: { serviceName: 'plain' },
    });
    expect(restartOwn.status).toBe(200);

    const otherStart = await rawApi(port(), 'POST', `/v1/apps/${otherApp.appId}/start`, {
      ...auth,
      body: {},
    });
    const otherRestart = await rawApi(port(), 'POST', '/v1/restart', {
      ...auth,
      body: { appId: otherApp.appId },
    });
    const otherStop = await rawApi(port(), 'POST', `/v2/applications/${otherApp.appId}/stop-service`, {
      ...auth,
      body: { serviceName: 'main' },
    });
    for (const reply of [otherStart, otherRestart, otherStop]) {
      expect(reply.status).toBe(401);
      expect(reply.body).toEqual(expect.objectContaining({ status: 'failed' }));
    }
    // Device-wide routes need the global key.
    expect((await rawApi(port(), 'GET', '/v2/local/target-state', auth)).status).toBe(401);
    // The other app was not touched by the refused calls.
    const other = (await t.containers()).find((c) => c.appUuid === otherApp.appUuid)!;
    expect(other.status).toBe('running');
  });

  it('keeps the app key across an agent restart, so the container is not recreated', async () => {
    await t.restart();
    await sleep(1_500); // a few loop passes of the new agent
    const main = (await t.containers()).find(
      (c) => c.appUuid === apiApp.appUuid && c.serviceName === 'main',
    )!;
    expect(main.id).toBe(apiContainerId);
    expect(main.status).toBe('running');
    const reply = await rawApi(port(), 'GET', '/v2/applications/state', {
      headers: { Authorization: `Bearer ${appKey}` },
    });
    expect(reply.status).toBe(200);
  });

  it('takes the app key in the query form too', async () => {
    const reply = await rawApi(port(), 'GET', `/v2/applications/state?apikey=${encodeURIComponent(appKey)}`);
    expect(reply.status).toBe(200);
    expect(reply.text).toContain(apiApp.appUuid);
  });
});
