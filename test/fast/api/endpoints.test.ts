import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { createMetrics } from '../../../src/api/metrics.js';
import { testApiServer } from '../../helpers/api-server.js';
import { FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';

const auth = { authorization: `Bearer ${GLOBAL_KEY}` };
const LOCK_OPTS = { force: false, lockTimeoutMs: 10000 };

describe('src/api endpoints (global key)', () => {
  let facade: FakeFacade;
  let app: FastifyInstance;
  let localMode: boolean;

  async function build(): Promise<void> {
    const metrics = createMetrics();
    metrics.recordPoll('changed');
    app = await testApiServer(facade, {
      metrics,
      localMode,
      version: '9.8.7',
      hostInfo: () => ({
        osVersion: 'Linux 6.1',
        ipAddresses: ['192.0.2.10'],
        macAddresses: ['02:00:00:00:00:01'],
      }),
    });
  }

  beforeEach(async () => {
    facade = new FakeFacade();
    localMode = false;
    await build();
  });
  afterEach(async () => {
    await app.close();
  });

  const send = (options: InjectOptions) =>
    app.inject({ ...options, headers: { ...auth, ...options.headers } });
  const post = (url: string, body?: unknown) =>
    send({ method: 'POST', url, ...(body === undefined ? {} : { payload: body as object }) });

  it('GET /ping answers OK as text without a key', async () => {
    const res = await app.inject({ method: 'GET', url: '/ping' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('OK');
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('GET /v1/healthy answers 200 when healthy and 500 with the reason when not, without a key', async () => {
    expect((await app.inject({ method: 'GET', url: '/v1/healthy' })).statusCode).toBe(200);
    facade.health = { healthy: false, reason: 'no poll for 3 intervals' };
    const res = await app.inject({ method: 'GET', url: '/v1/healthy' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ status: 'failed', message: 'no poll for 3 intervals' });
    facade.failures.healthy = new Error('boom');
    expect((await app.inject({ method: 'GET', url: '/v1/healthy' })).statusCode).toBe(500);
  });

  it('POST /v1/update answers 204 when triggered and 202 when ignored, passing force and cancel', async () => {
    let res = await post('/v1/update', { force: true, cancel: '1' });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(facade.calls.at(-1)).toEqual({
      method: 'triggerUpdate',
      args: [{ force: true, cancel: true, caller: { scope: 'global' } }],
    });
    facade.triggerResult = false;
    res = await post('/v1/update');
    expect(res.statusCode).toBe(202);
    expect(facade.calls.at(-1)).toEqual({
      method: 'triggerUpdate',
      args: [{ force: false, cancel: false, caller: { scope: 'global' } }],
    });
  });

  it('POST /v1/restart restarts the app with lock options and answers OK', async () => {
    const res = await post('/v1/restart', { appId: 1, force: 'true', extra: 'ignored' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('OK');
    expect(facade.calls.at(-1)).toEqual({
      method: 'restartApp',
      args: [1, { force: true, lockTimeoutMs: 10000 }],
    });
  });

  it('POST /v1/restart without appId is 400, and an unknown app is 404', async () => {
    let res = await post('/v1/restart', {});
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ status: 'failed', message: 'appId is required' });
    res = await post('/v1/restart', { appId: 99 });
    expect(res.statusCode).toBe(404);
    expect(res.json().status).toBe('failed');
  });

  it.each(['/v1/reboot', '/v1/shutdown'])('POST %s answers 202 with balena v1 body', async (url) => {
    const res = await post(url, { force: 1 });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ Data: 'OK', Error: null });
    expect(facade.calls.at(-1)?.args).toEqual([{ force: true, lockTimeoutMs: 10000 }]);
  });

  it('POST /v1/purge answers 200 with balena v1 body', async () => {
    const res = await post('/v1/purge', { appId: '2' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ Data: 'OK', Error: null });
    expect(facade.calls.at(-1)).toEqual({ method: 'purgeApp', args: [2, LOCK_OPTS] });
  });

  it('POST /v1/apps/:appId/stop and /start answer the container id', async () => {
    let res = await post('/v1/apps/2/stop');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ containerId: 'container-main-2' });
    expect(facade.calls.at(-1)).toEqual({ method: 'stopService', args: [2, undefined, LOCK_OPTS] });
    res = await post('/v1/apps/2/start', { force: 'off' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ containerId: 'container-main-2' });
    expect(facade.calls.at(-1)).toEqual({ method: 'startService', args: [2, undefined] });
  });

  it('POST /v1/apps/:appId/stop rejects an id that is not a positive integer with 400', async () => {
    for (const id of ['0', '-1', 'abc', '1.5', '99999999999999999999']) {
      const res = await post(`/v1/apps/${id}/stop`);
      expect([id, res.statusCode]).toEqual([id, 400]);
      expect(res.json().message).toMatch(/appId/);
    }
    expect(facade.mutatingCalls()).toHaveLength(0);
  });

  it('GET /v1/apps/:appId answers the app; unknown app is 404', async () => {
    const res = await send({ method: 'GET', url: '/v1/apps/1' });
    expect(res.json()).toEqual({
      appId: 1,
      commit: 'release-a',
      serviceName: 'main',
      imageId: 1001,
      releaseId: 7,
      containerId: 'container-main-1',
    });
    expect((await send({ method: 'GET', url: '/v1/apps/7' })).statusCode).toBe(404);
  });

  it('GET /v1/device answers balena field names', async () => {
    const res = await send({ method: 'GET', url: '/v1/device' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      api_port: null,
      ip_address: '192.0.2.10',
      mac_address: '02:00:00:00:00:01',
      commit: 'release-a',
      status: 'Idle',
      download_progress: null,
      os_version: 'Linux 6.1',
      supervisor_version: '0.1.0',
      update_pending: false,
      update_downloaded: false,
      update_failed: false,
      uuid: 'device-uuid-1',
      name: 'kitchen-pi',
      target_error: null,
      local_mode: false,
    });
  });

  it.each([
    ['restart-service', 'restartService', ['main', LOCK_OPTS]],
    ['stop-service', 'stopService', ['main', LOCK_OPTS]],
    ['start-service', 'startService', ['main']],
  ] as const)('POST /v2/applications/:appId/%s answers OK', async (action, method, rest) => {
    const res = await post(`/v2/applications/1/${action}`, { serviceName: 'main' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('OK');
    expect(facade.calls.at(-1)).toEqual({ method, args: [1, ...rest] });
  });

  it('v2 service actions accept an imageId, 400 without a service, 404 for an unknown one', async () => {
    let res = await post('/v2/applications/1/restart-service', { imageId: 1002 });
    expect(res.statusCode).toBe(200);
    expect(facade.calls.at(-1)).toEqual({ method: 'restartService', args: [1, 'helper', LOCK_OPTS] });
    res = await post('/v2/applications/1/restart-service', { force: true });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ status: 'failed', message: 'serviceName (or imageId) is required' });
    res = await post('/v2/applications/1/stop-service', { serviceName: 'nope' });
    expect(res.statusCode).toBe(404);
    res = await post('/v2/applications/1/stop-service', { imageId: 5555 });
    expect(res.statusCode).toBe(404);
    res = await post('/v2/applications/1/stop-service', { serviceName: 5 });
    expect(res.statusCode).toBe(400);
  });

  it('POST /v2/applications/:appId/restart and /purge answer OK', async () => {
    expect((await post('/v2/applications/1/restart')).body).toBe('OK');
    expect(facade.calls.at(-1)).toEqual({ method: 'restartApp', args: [1, LOCK_OPTS] });
    expect((await post('/v2/applications/1/purge', { force: true })).body).toBe('OK');
    expect(facade.calls.at(-1)).toEqual({
      method: 'purgeApp',
      args: [1, { force: true, lockTimeoutMs: 10000 }],
    });
  });

  it('GET /v2/applications/state answers apps keyed by name', async () => {
    const res = await send({ method: 'GET', url: '/v2/applications/state' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(Object.keys(body)).toEqual(['sensor-app', 'other-app']);
    expect(body['sensor-app']).toMatchObject({
      appId: 1,
      appUuid: 'app-uuid-1',
      commit: 'release-a',
      updateStatus: 'done',
      services: {
        main: {
          status: 'Running',
          releaseId: 7,
          downloadProgress: null,
          image: '127.0.0.1:5000/bosun/demo:1',
        },
        helper: { status: 'Downloading', downloadProgress: 40, image: '127.0.0.1:5000/bosun/locker:1' },
      },
    });
    expect(body['other-app'].updateStatus).toBe('locked');
  });

  it('GET /v2/state/status answers balena status with containers and release', async () => {
    const body = (await send({ method: 'GET', url: '/v2/state/status' })).json();
    expect(body).toMatchObject({ status: 'success', appState: 'applied', overallDownloadProgress: null });
    expect(body.release).toBe('release-a');
    expect(body.containers.map((c: { containerId: string }) => c.containerId)).toEqual([
      'container-main-1',
      'container-main-2',
    ]);
    expect(body.containers[0]).toMatchObject({
      serviceName: 'main',
      appId: 1,
      imageId: 1001,
      status: 'Running',
    });
  });

  it('GET /v2/locks lists every lock', async () => {
    const body = (await send({ method: 'GET', url: '/v2/locks' })).json();
    expect(body).toEqual({
      status: 'success',
      locks: [
        {
          appId: 1,
          appUuid: 'app-uuid-1',
          serviceName: 'main',
          path: '/tmp/balena/updates.lock',
          hostPath: '/tmp/bosun/services/1/main/updates.lock',
          holder: 'app',
          since: '2026-01-01T00:00:00.000Z',
        },
      ],
    });
  });

  it('GET /v2/local/target-state wraps the target; POST is 400 in managed mode', async () => {
    let res = await send({ method: 'GET', url: '/v2/local/target-state' });
    expect(res.json()).toEqual({
      status: 'success',
      state: { local: { name: 'kitchen-pi', config: {}, apps: {} } },
    });
    res = await post('/v2/local/target-state', { local: { name: 'x', apps: {} } });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/local mode/);
    expect(facade.mutatingCalls()).toHaveLength(0);
  });

  it('POST /v2/local/target-state applies the target in local mode; facade rejections are 400', async () => {
    await app.close();
    localMode = true;
    await build();
    let res = await post('/v2/local/target-state', { local: { name: 'x', apps: {} } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'success', message: 'OK' });
    expect(facade.storedLocalTarget).toEqual({ name: 'x', apps: {} });
    res = await post('/v2/local/target-state', {});
    expect(res.statusCode).toBe(400);
    // A real target is bigger than an action body: up to 1 MiB is accepted.
    const big = { local: { name: 'big', apps: {}, padding: 'x'.repeat(200 * 1024) } };
    expect((await post('/v2/local/target-state', big)).statusCode).toBe(200);
  });

  it('GET /v2/version and /v2/device/name', async () => {
    expect((await send({ method: 'GET', url: '/v2/version' })).json()).toEqual({
      status: 'success',
      version: '9.8.7',
    });
    expect((await send({ method: 'GET', url: '/v2/device/name' })).json()).toEqual({
      status: 'success',
      deviceName: 'kitchen-pi',
    });
  });

  it('GET /metrics answers Prometheus text from the registry', async () => {
    const res = await send({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    expect(res.body).toContain('bosun_polls_total{result="changed"} 1');
    expect(res.body).toContain('bosun_process_cpu_user_seconds_total');
  });
});
