import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { staleAfterMs } from '../../../src/cloud/poll-schedule.js';
import { FakeCloud, type RecordedRequest, type ScriptedResponse } from '../../helpers/fake-cloud.js';
import { uniqueDeviceUuid } from '../../helpers/docker.js';
import {
  deviceObject,
  rawApi,
  startTestAgent,
  unique,
  waitFor,
  type TestAgent,
} from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1 } from '../../helpers/images.js';

const POLL_INTERVAL_MS = 1_000;

/** One sample's value from Prometheus text, or undefined when the series is absent. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const have = labelText.split(',');
    if (wanted.every((w) => have.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * The API of an agent in managed mode, against a cloud on 127.0.0.1 that first serves a target
 * and then stops answering: /metrics counts the polls and the update, /v1/healthy turns 500 when
 * polling has stalled, and comes back when the cloud does.
 */
describe('local API (real agent): managed mode health and metrics', () => {
  let cloud: FakeCloud;
  let t: TestAgent;
  const uuid = uniqueDeviceUuid();
  const appUuid = unique('app');
  const releaseUuid = unique('rel');
  const device = deviceObject({
    appUuid,
    appId: 9601,
    releaseUuid,
    releaseId: 1,
    services: { main: { image: LOCKER_1 } },
  });
  let cloudUp = true;
  let lastAnswered = 0;

  const answerTarget = (req: RecordedRequest): ScriptedResponse => {
    if (!cloudUp) return { destroy: true };
    lastAnswered = Date.now();
    if (req.headers['if-none-match'] === '"t1"') return { status: 304 };
    return { status: 200, headers: { etag: '"t1"' }, body: { [uuid]: device } };
  };

  beforeAll(async () => {
    cloud = await FakeCloud.start();
    cloud.fallback(`GET /device/v3/${uuid}/state`, answerTarget);
    cloud.fallback('PATCH /device/v3/state', { status: 200, body: {} });
    t = await startTestAgent({
      config: { uuid, apiEndpoint: cloud.url, deviceApiKey: 'device-key', pollIntervalMs: POLL_INTERVAL_MS },
    });
  });
  afterAll(async () => {
    await t?.cleanup();
    await cloud?.close();
  });

  it('applies the cloud target; /metrics counts the polls and shows the app done', async () => {
    await waitReleaseRunning(t, appUuid, releaseUuid);
    const metrics = await waitFor('update_status done in /metrics', async () => {
      const reply = await t.api('GET', '/metrics');
      return sample(reply.text, 'bosun_update_status', { app: appUuid, status: 'done' }) === 1
        ? reply.text
        : undefined;
    });
    expect(sample(metrics, 'bosun_update_status', { app: appUuid, status: 'locked' })).toBe(0);
    expect(sample(metrics, 'bosun_polls_total', { result: 'changed' })).toBe(1);
    // polls go on at the interval and find nothing new
    await waitFor('an unchanged poll counted', async () => {
      const reply = await t.api('GET', '/metrics');
      return (sample(reply.text, 'bosun_polls_total', { result: 'unchanged' }) ?? 0) >= 1;
    });
    const first = cloud.requestsTo(`GET /device/v3/${uuid}/state`)[0]!;
    expect(first.headers.authorization).toBe('Bearer device-key');
    expect((await rawApi(t.agent.apiPort, 'GET', '/v1/healthy')).status).toBe(200);
  });

  it('refuses a local target in managed mode', async () => {
    const reply = await t.api('POST', '/v2/local/target-state', device);
    expect(reply.status).toBe(400);
    expect(reply.body).toEqual({ status: 'failed', message: expect.stringContaining('local mode') });
    expect((await t.api('GET', '/v1/device')).body).toMatchObject({ local_mode: false, commit: releaseUuid });
  });

  it('/v1/healthy answers 500 once polling has stalled, and 200 again when the cloud is back', async () => {
    const stale = staleAfterMs(POLL_INTERVAL_MS);
    expect(stale).toBeLessThanOrEqual(5_000); // else this test would wait minutes: see the report
    cloudUp = false;
    const downSince = Date.now();
    const unhealthy = await waitFor(
      '/v1/healthy answering 500',
      async () => {
        const reply = await rawApi(t.agent.apiPort, 'GET', '/v1/healthy');
        return reply.status === 500 ? reply : undefined;
      },
      stale + 5_000,
    );
    expect(unhealthy.body).toEqual({ status: 'failed', message: expect.stringContaining('polling') });
    // not before the last successful poll was older than the stale limit
    expect(Date.now() - lastAnswered).toBeGreaterThanOrEqual(stale);
    expect(Date.now() - downSince).toBeLessThan(stale + 5_000);
    const metrics = (await t.api('GET', '/metrics')).text;
    expect(sample(metrics, 'bosun_polls_total', { result: 'error' })).toBeGreaterThanOrEqual(1);
    // the app keeps running while the cloud is away
    expect((await t.containers()).map((c) => c.status)).toEqual(['running']);

    cloudUp = true;
    await waitFor(
      '/v1/healthy answering 200 again',
      async () => (await rawApi(t.agent.apiPort, 'GET', '/v1/healthy')).status === 200,
      3 * POLL_INTERVAL_MS + 3_000,
    );
  });
});
