import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sleep, startTestAgent, waitFor, type TestAgent } from '../../helpers/agent.js';
import { startApp } from '../../helpers/apps.js';
import { appContainers, takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1 } from '../../helpers/images.js';
import { appState } from '../../helpers/local-api.js';
import { BALENA_LOCK } from '../../helpers/locks.js';

/** A 423 comes after the 10 s lock wait; the request must not hang much longer than that. */
const LOCKED_REPLY_MS = 20_000;
/** Several fallback polls (500 ms) and a resync (2 s) of the test agent's loop. */
const LOOP_PASSES_MS = 3_000;

describe('local API (real agent): restart, stop and start', () => {
  let t: TestAgent;
  let appIds = 9200;

  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it(
    'POST /v1/restart answers 423 naming the lock while an app holds it, and restarts with force',
    async () => {
      const app = await startApp(t, (appIds += 1));
      const old = app.running.main!;
      await takeLockInside(old.id);

      const startedAt = Date.now();
      const locked = await t.api('POST', '/v1/restart', { appId: app.appId });
      const waited = Date.now() - startedAt;
      expect(locked.status).toBe(423);
      expect(locked.body).toEqual({ status: 'failed', message: expect.stringContaining(BALENA_LOCK) });
      expect(waited).toBeGreaterThanOrEqual(9_000); // it waited for the app to let go first
      const unchanged = await appContainers(t, app.appUuid);
      expect(unchanged.map((c) => [c.id, c.status])).toEqual([[old.id, 'running']]);

      const forced = await t.api('POST', '/v1/restart', { appId: app.appId, force: true });
      expect(forced.status).toBe(200);
      expect(forced.text).toBe('OK');
      const now = await waitReleaseRunning(t, app.appUuid, app.releaseUuid);
      expect(now.main!.id).not.toBe(old.id);
    },
    LOCKED_REPLY_MS + 30_000,
  );

  it('POST /v1/restart without a lock gives the app a new running container', async () => {
    const app = await startApp(t, (appIds += 1));
    const reply = await t.api('POST', '/v1/restart', { appId: app.appId });
    expect(reply.status).toBe(200);
    // restart answers once the app is back: no waiting needed to see the new container
    const cs = await appContainers(t, app.appUuid);
    expect(cs).toHaveLength(1);
    expect(cs[0]!.id).not.toBe(app.running.main!.id);
    expect(cs[0]!.status).toBe('running');
  });

  it('stop-service stops one service and it stays stopped; start-service and restart-service act on it', async () => {
    const app = await startApp(t, (appIds += 1), {
      main: { image: LOCKER_1 },
      side: { image: LOCKER_1 },
    });
    const route = `/v2/applications/${app.appId}`;
    const stop = await t.api('POST', `${route}/stop-service`, { serviceName: 'main' });
    expect(stop.status).toBe(200);
    expect(stop.text).toBe('OK');
    const stoppedNow = await appContainers(t, app.appUuid);
    expect(stoppedNow.find((c) => c.serviceName === 'main')?.status).not.toBe('running');

    // The loop keeps running passes (resync, fallback poll) and must not start it again.
    await t.api('POST', '/v1/update', {});
    await sleep(LOOP_PASSES_MS);
    const later = await appContainers(t, app.appUuid);
    const main = later.find((c) => c.serviceName === 'main')!;
    expect(main.id).toBe(app.running.main!.id);
    expect(main.status).not.toBe('running');
    expect(later.find((c) => c.serviceName === 'side')).toMatchObject({
      id: app.running.side!.id,
      status: 'running',
    });
    // A service stopped on request is not an update in progress.
    const state = await appState(t, app.appUuid);
    expect(state).toMatchObject({ updateStatus: 'done', services: { main: { status: 'exited' } } });
    expect((await t.api('GET', '/v2/state/status')).body).toMatchObject({ appState: 'applied' });

    const start = await t.api('POST', `${route}/start-service`, { serviceName: 'main' });
    expect(start.status).toBe(200);
    const started = await waitFor('main running again', async () =>
      (await appContainers(t, app.appUuid)).find((c) => c.serviceName === 'main' && c.status === 'running'),
    );
    expect(started.id).toBe(app.running.main!.id); // started, not recreated

    const restart = await t.api('POST', `${route}/restart-service`, { serviceName: 'side' });
    expect(restart.status).toBe(200);
    const after = await waitReleaseRunning(t, app.appUuid, app.releaseUuid, ['main', 'side']);
    expect(after.side!.id).not.toBe(app.running.side!.id);
    expect(after.main!.id).toBe(app.running.main!.id); // the other service was left alone
  });

  it('a service stopped through the API stays stopped when the agent restarts', async () => {
    const app = await startApp(t, (appIds += 1));
    const route = `/v2/applications/${app.appId}`;
    expect((await t.api('POST', `${route}/stop-service`, { serviceName: 'main' })).status).toBe(200);
    await t.restart();
    await sleep(LOOP_PASSES_MS);
    const afterRestart = await appContainers(t, app.appUuid);
    expect(afterRestart.map((c) => c.id)).toEqual([app.running.main!.id]);
    expect(afterRestart[0]!.status).not.toBe('running');

    expect((await t.api('POST', `${route}/start-service`, { serviceName: 'main' })).status).toBe(200);
    await t.restart();
    await sleep(LOOP_PASSES_MS);
    expect((await appContainers(t, app.appUuid)).map((c) => [c.id, c.status])).toEqual([
      [app.running.main!.id, 'running'],
    ]);
  });

  it('service actions answer 400 without a service, 404 for an unknown service or app', async () => {
    const app = await startApp(t, (appIds += 1));
    const route = `/v2/applications/${app.appId}`;
    for (const action of ['stop-service', 'start-service', 'restart-service']) {
      const noName = await t.api('POST', `${route}/${action}`, {});
      expect([action, noName.status]).toEqual([action, 400]);
      expect(noName.body).toEqual({ status: 'failed', message: expect.any(String) });
      const unknownService = await t.api('POST', `${route}/${action}`, { serviceName: 'nope' });
      expect([action, unknownService.status]).toEqual([action, 404]);
      expect(unknownService.body).toEqual({ status: 'failed', message: expect.stringContaining('nope') });
      const unknownApp = await t.api('POST', `/v2/applications/999999/${action}`, { serviceName: 'main' });
      expect([action, unknownApp.status]).toEqual([action, 404]);
    }
    expect((await t.api('POST', '/v1/restart', { appId: 999999 })).status).toBe(404);
    expect((await t.api('POST', '/v1/apps/999999/stop', {})).status).toBe(404);
    // Nothing of the real app was touched by the refused calls.
    expect((await appContainers(t, app.appUuid)).map((c) => [c.id, c.status])).toEqual([
      [app.running.main!.id, 'running'],
    ]);
  });

  it('POST /v1/apps/:appId/stop and /start answer the container id', async () => {
    const app = await startApp(t, (appIds += 1));
    const id = app.running.main!.id;
    const stop = await t.api('POST', `/v1/apps/${app.appId}/stop`);
    expect(stop.status).toBe(200);
    expect(stop.body).toEqual({ containerId: id });
    expect((await appContainers(t, app.appUuid))[0]!.status).not.toBe('running');
    await sleep(1_000);
    expect((await appContainers(t, app.appUuid))[0]!.status).not.toBe('running');

    const start = await t.api('POST', `/v1/apps/${app.appId}/start`);
    expect(start.status).toBe(200);
    expect(start.body).toEqual({ containerId: id });
    await waitFor(
      'container running again',
      async () => (await appContainers(t, app.appUuid))[0]?.status === 'running',
    );
  });

  it('POST /v1/apps/:appId/stop with force stops past an app lock', async () => {
    const app = await startApp(t, (appIds += 1));
    const id = app.running.main!.id;
    await takeLockInside(id);
    const stop = await t.api('POST', `/v1/apps/${app.appId}/stop`, { force: true });
    expect(stop.status).toBe(200);
    expect(stop.body).toEqual({ containerId: id });
    expect((await appContainers(t, app.appUuid))[0]!.status).not.toBe('running');
  });
});
