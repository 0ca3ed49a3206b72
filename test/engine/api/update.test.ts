import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DockerEngine } from '../../helpers/shipped-agent.js';
import { DOCKER_HOST } from '../../helpers/docker.js';
import { RecordingEngine } from '../../helpers/recording-engine.js';
import { sleep, startTestAgent, waitFor, type TestAgent } from '../../helpers/agent.js';
import { nextRelease, startApp } from '../../helpers/apps.js';
import { takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { appState, waitUpdateStatus } from '../../helpers/local-api.js';
import { BALENA_LOCK } from '../../helpers/locks.js';

/** Long enough for several fallback polls (500 ms): a lock that holds, holds past them. */
const HELD_MS = 1_500;

describe('local API (real agent): POST /v1/update and what the device reports', () => {
  let t: TestAgent;
  let appIds = 9300;

  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('force given right after the new target goes past a lock an app already holds', async () => {
    const app = await startApp(t, (appIds += 1), { main: { image: LOCKER_1 } });
    await takeLockInside(app.running.main!.id);
    const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
    await t.setTarget(next.target);
    const reply = await t.api('POST', '/v1/update', { force: true });
    expect(reply.status).toBe(204);
    const running = await waitReleaseRunning(t, app.appUuid, next.releaseUuid);
    expect(running.main!.id).not.toBe(app.running.main!.id);
    await waitUpdateStatus(t, app.appUuid, 'done');
  });

  it('reports the wait on a lock, then force releases the waiting apply', async () => {
    const app = await startApp(t, (appIds += 1), { main: { image: LOCKER_1 } });
    const oldId = app.running.main!.id;
    await takeLockInside(oldId);
    const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
    await t.setTarget(next.target);
    await waitUpdateStatus(t, app.appUuid, 'locked');

    // While it waits: the status says applying, the device says an update is pending and locked.
    const status = await t.api('GET', '/v2/state/status');
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ status: 'success', appState: 'applying', release: app.releaseUuid });
    const device = await t.api('GET', '/v1/device');
    expect(device.status).toBe(200);
    expect(device.body).toMatchObject({
      api_port: t.agent.apiPort,
      commit: app.releaseUuid,
      status: 'Locked',
      update_pending: true,
      update_downloaded: true,
      update_failed: false,
      uuid: t.uuid,
    });
    const locks = await t.api('GET', '/v2/locks');
    expect(locks.status).toBe(200);
    expect(locks.body).toMatchObject({
      status: 'success',
      locks: [
        expect.objectContaining({
          appId: app.appId,
          appUuid: app.appUuid,
          serviceName: 'main',
          path: BALENA_LOCK,
          holder: 'app',
          since: expect.any(String),
        }),
      ],
    });
    const state = await appState(t, app.appUuid);
    expect(state).toMatchObject({
      commit: app.releaseUuid,
      targetCommit: next.releaseUuid,
      updateStatus: 'locked',
    });

    // A plain trigger does not get past the lock.
    expect((await t.api('POST', '/v1/update', {})).status).toBe(204);
    await sleep(HELD_MS);
    expect((await t.containers()).find((c) => c.appUuid === app.appUuid)?.id).toBe(oldId);
    expect((await appState(t, app.appUuid))?.updateStatus).toBe('locked');

    expect((await t.api('POST', '/v1/update', { force: true })).status).toBe(204);
    const running = await waitReleaseRunning(t, app.appUuid, next.releaseUuid);
    expect(running.main!.id).not.toBe(oldId);
    await waitUpdateStatus(t, app.appUuid, 'done');

    expect(await appState(t, app.appUuid)).toMatchObject({
      appId: app.appId,
      commit: next.releaseUuid,
      updateStatus: 'done',
      services: {
        main: {
          status: 'Running',
          releaseId: 2,
          releaseUuid: next.releaseUuid,
          image: LOCKER_2,
          containerId: running.main!.id,
          downloadProgress: null,
        },
      },
    });
    expect((await t.api('GET', `/v1/apps/${app.appId}`)).body).toEqual({
      appId: app.appId,
      commit: next.releaseUuid,
      serviceName: 'main',
      imageId: 201,
      releaseId: 2,
      containerId: running.main!.id,
    });

    const applied = await t.api('GET', '/v2/state/status');
    expect(applied.body).toMatchObject({ appState: 'applied', release: next.releaseUuid });
    expect((applied.body as { containers: unknown[] }).containers).toEqual([
      expect.objectContaining({
        serviceName: 'main',
        containerId: running.main!.id,
        commit: next.releaseUuid,
      }),
    ]);
    const after = await t.api('GET', '/v1/device');
    expect(after.body).toMatchObject({
      api_port: t.agent.apiPort,
      commit: next.releaseUuid,
      status: 'Idle',
      update_pending: false,
      update_downloaded: false,
      update_failed: false,
    });
    // The forced update removed the user's lock, and the agent releases its own (in the pass
    // after the one that found the app done).
    await waitFor('no lock left', async () => {
      const reply = await t.api('GET', '/v2/locks');
      return JSON.stringify(reply.body) === JSON.stringify({ status: 'success', locks: [] });
    });
  });

  it('/metrics shows the update status of the apps in the target, and drops an app that left it', async () => {
    const first = await startApp(t, (appIds += 1), { main: { image: LOCKER_1 } });
    const metric = (appUuid: string, status: string) =>
      `bosun_update_status{app="${appUuid}",status="${status}"} 1`;
    await waitFor('first app done in /metrics', async () =>
      (await t.api('GET', '/metrics')).text.includes(metric(first.appUuid, 'done')),
    );
    const second = await startApp(t, (appIds += 1), { main: { image: LOCKER_1 } });
    const text = await waitFor('second app done in /metrics', async () => {
      const reply = await t.api('GET', '/metrics');
      return reply.text.includes(metric(second.appUuid, 'done')) ? reply.text : undefined;
    });
    await waitFor(
      'first app gone from /metrics',
      async () => !(await t.api('GET', '/metrics')).text.includes(`app="${first.appUuid}"`),
      5_000,
    );
    expect(text).toContain('bosun_applies_total{result="success"}');
  });

  it('/v1/update with no body and no content type is accepted (apps do curl -X POST)', async () => {
    const response = await fetch(`http://127.0.0.1:${t.agent.apiPort}/v1/update`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${t.config.apiKey}` },
    });
    expect(response.status).toBe(204);
  });

  it('a force sent while a pass over the previous target is still reading the world is not lost', async () => {
    // A second agent whose engine can be slowed down, to hold a pass in its fact gathering.
    const docker = new DockerEngine({ dockerHost: DOCKER_HOST });
    const engine = new RecordingEngine(docker);
    let listDelayMs = 0;
    engine.listContainers = async (uuid: string) => {
      if (listDelayMs > 0) await sleep(listDelayMs);
      return docker.listContainers(uuid);
    };
    const slow = await startTestAgent({ engine });
    try {
      const app = await startApp(slow, (appIds += 1), { main: { image: LOCKER_1 } });
      await takeLockInside(app.running.main!.id);
      listDelayMs = 600;
      slow.agent.loop.trigger(); // a pass over the current (converged) target starts, and reads slowly
      await sleep(100);
      const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
      await slow.setTarget(next.target);
      expect((await slow.api('POST', '/v1/update', { force: true })).status).toBe(204);
      await sleep(700);
      listDelayMs = 0;
      await waitReleaseRunning(slow, app.appUuid, next.releaseUuid, ['main'], 10_000);
    } finally {
      await slow.cleanup();
    }
  });
});
