/**
 * Attack review #6: an app's key must reach its own app only, also through device-wide endpoints
 * (contract section 8): its force overrides its own app's locks only, force on reboot or
 * shutdown needs the global key, and errors and /metrics name only its app.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { OTHER_APP_LOCKED_MESSAGE } from '../../../src/api/error-reply.js';
import { createMetrics, type BosunMetrics } from '../../../src/api/metrics.js';
import { keepSeriesOf, sampleLabels } from '../../../src/api/metrics-filter.js';
import { testApiServer } from '../../helpers/api-server.js';
import { APP1_KEY, APP2_KEY, FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';

const asKey = (key: string) => ({ authorization: `Bearer ${key}` });

describe('src/api app-scoped keys on device-wide endpoints', () => {
  let facade: FakeFacade;
  let metrics: BosunMetrics;
  let app: FastifyInstance;

  beforeEach(async () => {
    facade = new FakeFacade();
    metrics = createMetrics();
    app = await testApiServer(facade, { metrics });
  });
  afterEach(async () => {
    await app.close();
  });

  it('passes the caller of POST /v1/update on, so a force reaches only what the key reaches', async () => {
    const post = (key: string) =>
      app.inject({ method: 'POST', url: '/v1/update', headers: asKey(key), payload: { force: true } });
    expect((await post(APP2_KEY)).statusCode).toBe(204);
    expect((await post(GLOBAL_KEY)).statusCode).toBe(204);
    expect(facade.calls.map((c) => c.args[0])).toEqual([
      { force: true, cancel: false, caller: { scope: 'app', appId: 2 } },
      { force: true, cancel: false, caller: { scope: 'global' } },
    ]);
  });

  it.each(['/v1/reboot', '/v1/shutdown'])(
    'answers 403 to an app key forcing %s, and lets it ask without force',
    async (url) => {
      const forced = await app.inject({
        method: 'POST',
        url,
        headers: asKey(APP1_KEY),
        payload: { force: true },
      });
      expect(forced.statusCode).toBe(403);
      expect(forced.json()).toEqual({
        status: 'failed',
        message: expect.stringContaining('needs the device-wide API key'),
      });
      expect(facade.mutatingCalls()).toEqual([]);

      const plain = await app.inject({ method: 'POST', url, headers: asKey(APP1_KEY), payload: {} });
      expect(plain.statusCode).toBe(202);
      const global = await app.inject({
        method: 'POST',
        url,
        headers: asKey(GLOBAL_KEY),
        payload: { force: true },
      });
      expect(global.statusCode).toBe(202);
      expect(facade.mutatingCalls().map((c) => (c.args[0] as { force: boolean }).force)).toEqual([
        false,
        true,
      ]);
    },
  );

  it("answers an app key's reboot that another app's lock blocks with 423 naming neither app nor path", async () => {
    facade.lockedApps.add(1);
    const res = await app.inject({ method: 'POST', url: '/v1/reboot', headers: asKey(APP2_KEY) });
    expect(res.statusCode).toBe(423);
    expect(res.json()).toEqual({ status: 'failed', message: OTHER_APP_LOCKED_MESSAGE });
    expect(res.body).not.toContain('updates.lock');
    expect(res.body).not.toMatch(/app 1\b/);

    // The global key, and app 1's own key on its own app, still see the details.
    const global = await app.inject({ method: 'POST', url: '/v1/reboot', headers: asKey(GLOBAL_KEY) });
    expect(global.statusCode).toBe(423);
    expect(global.json().message).toBe('app 1 is locked by /tmp/balena/updates.lock');
    const own = await app.inject({
      method: 'POST',
      url: '/v1/restart',
      headers: asKey(APP1_KEY),
      payload: { appId: 1 },
    });
    expect(own.statusCode).toBe(423);
    expect(own.json().message).toBe('app 1 is locked by /tmp/balena/updates.lock');
  });

  it("shows an app key only its own app's series in /metrics, and the device-wide ones", async () => {
    metrics.setUpdateStatus('app-uuid-1', 'locked');
    metrics.setUpdateStatus('app-uuid-2', 'done');
    metrics.addLockedSeconds('app-uuid-1', 3);
    metrics.recordPoll('changed');

    const scoped = await app.inject({ method: 'GET', url: '/metrics', headers: asKey(APP2_KEY) });
    expect(scoped.statusCode).toBe(200);
    expect(scoped.body).toContain('bosun_update_status{app="app-uuid-2",status="done"} 1');
    expect(scoped.body).toContain('bosun_polls_total{result="changed"} 1');
    expect(scoped.body).toContain('bosun_process_cpu_seconds_total');
    expect(scoped.body).not.toContain('app-uuid-1');

    const global = await app.inject({ method: 'GET', url: '/metrics', headers: asKey(GLOBAL_KEY) });
    expect(global.body).toContain('bosun_locked_seconds_total{app="app-uuid-1"} 3');
    expect(global.body).toContain('app-uuid-2');
  });

  it('shows an app key that has no app on the device no per-app series at all', async () => {
    facade.deviceView.apps = facade.deviceView.apps.filter((a) => a.appId !== 2);
    metrics.setUpdateStatus('app-uuid-1', 'done');
    const scoped = await app.inject({ method: 'GET', url: '/metrics', headers: asKey(APP2_KEY) });
    expect(scoped.statusCode).toBe(200);
    expect(scoped.body).not.toContain('app=');
  });
});

describe('src/api/metrics-filter', () => {
  it('reads labels, escapes included', () => {
    expect(sampleLabels('up 1')).toEqual({});
    expect(sampleLabels('m{a="x",b="y\\"z\\\\",c="l\\n"} 2')).toEqual({ a: 'x', b: 'y"z\\', c: 'l\n' });
    expect(sampleLabels('m{} 2')).toEqual({});
    expect(sampleLabels('m{a="unterminated} 2')).toBeUndefined();
    expect(sampleLabels('m{9bad="x"} 2')).toBeUndefined();
  });

  it('keeps series of the allowed values and those without the label; drops what it cannot parse', () => {
    const text = [
      '# HELP m help',
      '# TYPE m gauge',
      'm{app="mine",status="done"} 1',
      'm{app="theirs",status="done"} 1',
      // A value that imitates the label must not fool the filter.
      'm{status="x\\",app=\\"mine",app="theirs"} 1',
      'm{status="x"} 1',
      'n 5',
      'm{app="broken} 1',
      '',
    ].join('\n');
    expect(keepSeriesOf(text, 'app', new Set(['mine'])).split('\n')).toEqual([
      '# HELP m help',
      '# TYPE m gauge',
      'm{app="mine",status="done"} 1',
      'm{status="x"} 1',
      'n 5',
      '',
    ]);
  });
});
