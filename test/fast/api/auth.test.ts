import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { extractApiKey } from '../../../src/api/auth.js';
import { EngineUnavailableError } from '../../../src/engine/errors.js';
import { testApiServer } from '../../helpers/api-server.js';
import { captureLog } from '../../helpers/log-capture.js';
import { APP1_KEY, APP2_KEY, FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';

describe('src/api/auth extractApiKey', () => {
  it.each([
    [{ authorization: 'Bearer abc' }, {}, 'abc'],
    [{ authorization: 'bearer   abc  ' }, {}, 'abc'],
    [{ authorization: 'ApiKey abc' }, {}, 'abc'],
    [{ authorization: 'APIKEY abc' }, {}, 'abc'],
    [{}, { apikey: 'abc' }, 'abc'],
    [{ authorization: 'Basic Zm9vOmJhcg==' }, { apikey: 'abc' }, 'abc'],
    [{ authorization: 'Bearer h' }, { apikey: 'q' }, 'h'],
    [{ authorization: 'Bearer' }, {}, undefined],
    [{ authorization: 'Bearer a b' }, {}, undefined],
    [{}, { apikey: ['a', 'b'] }, undefined],
    [{}, { apikey: '' }, undefined],
    [{}, {}, undefined],
  ])('%j %j -> %s', (headers, query, expected) => {
    expect(extractApiKey(headers, query)).toBe(expected);
  });
});

describe('src/api authentication and scopes', () => {
  let facade: FakeFacade;
  let app: FastifyInstance;
  let logLines: string[];

  beforeEach(async () => {
    facade = new FakeFacade();
    const captured = captureLog();
    logLines = captured.lines;
    app = await testApiServer(facade, { log: captured.log, localMode: true, version: '1.0.0' });
  });
  afterEach(async () => {
    await app.close();
  });

  it('accepts the key as ?apikey=, Bearer and ApiKey', async () => {
    const forms = [
      { url: `/v2/version?apikey=${GLOBAL_KEY}` },
      { url: '/v2/version', headers: { authorization: `Bearer ${GLOBAL_KEY}` } },
      { url: '/v2/version', headers: { authorization: `ApiKey ${GLOBAL_KEY}` } },
    ];
    for (const form of forms) {
      const res = await app.inject({ method: 'GET', ...form });
      expect(res.statusCode).toBe(200);
    }
  });

  it('answers 401 JSON for no key, a wrong key, and a key in an unknown scheme', async () => {
    const attempts = [
      { url: '/v2/version' },
      { url: '/v2/version?apikey=wrong' },
      { url: '/v2/version', headers: { authorization: 'Bearer wrong' } },
      { url: '/v2/version', headers: { authorization: `Token ${GLOBAL_KEY}` } },
      { url: `/v2/version?apikey=${GLOBAL_KEY}x` },
    ];
    for (const attempt of attempts) {
      const res = await app.inject({ method: 'GET', ...attempt });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ status: 'failed', message: 'missing or invalid API key' });
    }
  });

  it('never calls the facade to act without a valid key', async () => {
    for (const url of ['/v1/update', '/v1/reboot', '/v1/apps/1/stop', '/v2/applications/1/restart-service']) {
      const res = await app.inject({
        method: 'POST',
        url: `${url}?apikey=nope`,
        payload: { serviceName: 'main' },
      });
      expect(res.statusCode).toBe(401);
    }
    expect(facade.calls).toHaveLength(0);
  });

  it('lets an app-scoped key act on its own app only', async () => {
    const asApp1 = { authorization: `Bearer ${APP1_KEY}` };
    let res = await app.inject({ method: 'POST', url: '/v1/apps/1/stop', headers: asApp1 });
    expect(res.statusCode).toBe(200);
    res = await app.inject({ method: 'POST', url: '/v1/restart', headers: asApp1, payload: { appId: 1 } });
    expect(res.statusCode).toBe(200);
    const before = facade.mutatingCalls().length;
    const denied = [
      { url: '/v1/apps/2/stop', payload: {} },
      { url: '/v1/apps/2/start', payload: {} },
      { url: '/v1/restart', payload: { appId: 2 } },
      { url: '/v1/purge', payload: { appId: 2 } },
      { url: '/v2/applications/2/restart-service', payload: { serviceName: 'main' } },
      { url: '/v2/applications/2/purge', payload: {} },
      // An app that does not exist is still "not yours": 401, not a 404 that reveals ids.
      { url: '/v1/apps/42/stop', payload: {} },
    ];
    for (const attempt of denied) {
      res = await app.inject({ method: 'POST', headers: asApp1, ...attempt });
      expect([attempt.url, res.statusCode]).toEqual([attempt.url, 401]);
      expect(res.json().status).toBe('failed');
    }
    expect(facade.mutatingCalls()).toHaveLength(before);
  });

  it('lets an app-scoped key use device-wide endpoints', async () => {
    const headers = { authorization: `ApiKey ${APP2_KEY}` };
    expect((await app.inject({ method: 'POST', url: '/v1/update', headers })).statusCode).toBe(204);
    expect((await app.inject({ method: 'POST', url: '/v1/reboot', headers })).statusCode).toBe(202);
    for (const url of [
      '/v1/device',
      '/v2/state/status',
      '/v2/version',
      '/v2/device/name',
      '/v2/locks',
      '/metrics',
    ]) {
      expect([url, (await app.inject({ method: 'GET', url, headers })).statusCode]).toEqual([url, 200]);
    }
  });

  it('shows an app-scoped key only its own app in listings', async () => {
    const headers = { authorization: `Bearer ${APP2_KEY}` };
    const state = (await app.inject({ method: 'GET', url: '/v2/applications/state', headers })).json();
    expect(Object.keys(state)).toEqual(['other-app']);
    const status = (await app.inject({ method: 'GET', url: '/v2/state/status', headers })).json();
    expect(status.containers.map((c: { appId: number }) => c.appId)).toEqual([2]);
    expect(status.release).toBe('release-b');
    const locks = (await app.inject({ method: 'GET', url: '/v2/locks', headers })).json();
    expect(locks).toEqual({ status: 'success', locks: [] });
  });

  it('keeps the local target (every app and its env) to the global key', async () => {
    const headers = { authorization: `Bearer ${APP1_KEY}` };
    expect((await app.inject({ method: 'GET', url: '/v2/local/target-state', headers })).statusCode).toBe(
      401,
    );
    const res = await app.inject({
      method: 'POST',
      url: '/v2/local/target-state',
      headers,
      payload: { local: { apps: {} } },
    });
    expect(res.statusCode).toBe(401);
    expect(facade.mutatingCalls()).toHaveLength(0);
  });

  it('never writes a key to the log, even on failures', async () => {
    facade.failAll = new EngineUnavailableError('docker socket missing');
    await app.inject({ method: 'GET', url: `/v2/state/status?apikey=${GLOBAL_KEY}` });
    await app.inject({ method: 'GET', url: `/%zz?apikey=${GLOBAL_KEY}` });
    await app.inject({ method: 'POST', url: `/v1/update?apikey=${GLOBAL_KEY}`, payload: '{bad' });
    await app.inject({ method: 'GET', url: '/v2/version', headers: { authorization: `Bearer ${APP1_KEY}` } });
    await app.inject({ method: 'GET', url: '/nowhere?apikey=wrong-key-123' });
    const text = logLines.join('');
    expect(text).toContain('local API request failed'); // the 503 was logged ...
    for (const secret of [GLOBAL_KEY, APP1_KEY, 'wrong-key-123']) expect(text).not.toContain(secret);
  });
});
