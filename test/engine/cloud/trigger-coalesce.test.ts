/**
 * Attack review #12 against a real agent in managed mode: a flood of POST /v1/update calls must
 * not turn into a flood of target polls. Triggers coalesce: one poll in flight, at most one
 * queued, and triggered polls keep a gap from the previous poll. The cloud is a fake on
 * 127.0.0.1 that counts the polls.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sleep, startTestAgent, waitFor, type TestAgent } from '../../helpers/agent.js';
import { uniqueDeviceUuid } from '../../helpers/docker.js';
import { FakeCloud } from '../../helpers/fake-cloud.js';

const TRIGGERS = 500;
const CLIENTS = 50;
const GAP_MS = 1_000;

describe('cloud (real agent, managed mode): /v1/update triggers coalesce into few polls', () => {
  const uuid = uniqueDeviceUuid();
  const route = `GET /device/v3/${uuid}/state`;
  let cloud: FakeCloud;
  let t: TestAgent;
  const polls = () => cloud.requestsTo(route);

  beforeAll(async () => {
    cloud = await FakeCloud.start();
    const doc = { [uuid]: { name: 'coalesce', config: {}, apps: {} } };
    cloud.fallback(route, (req) =>
      req.headers['if-none-match'] === '"e1"'
        ? { status: 304, headers: { etag: '"e1"' } }
        : { status: 200, headers: { etag: '"e1"' }, body: doc },
    );
    cloud.fallback('PATCH /device/v3/state', { status: 200, body: {} });
    t = await startTestAgent({
      config: { uuid, apiEndpoint: cloud.url, deviceApiKey: 'k', pollIntervalMs: 600_000 },
      agent: { pollTriggerGapMs: GAP_MS },
    });
    await waitFor('the start-up poll', () => polls().length >= 1, 15_000);
  });
  afterAll(async () => {
    await t?.cleanup();
    await cloud?.close();
  });

  it(`answers ${TRIGGERS} POST /v1/update calls from 50 clients with 204 and polls once per gap at most`, async () => {
    await sleep(GAP_MS); // past the start-up poll's gap: the first trigger may poll at once
    const before = polls().length;
    const started = Date.now();
    // 50 clients side by side, 10 calls each (the API caps connections at 256, so 500 sockets
    // at once would be refused in part): the triggers stream in while polls are answered.
    const replies = (
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          const statuses: number[] = [];
          for (let i = 0; i < TRIGGERS / CLIENTS; i++) {
            statuses.push((await t.api('POST', '/v1/update', i % 2 === 0 ? { force: true } : {})).status);
          }
          return statuses;
        }),
      )
    ).flat();
    const streamedMs = Date.now() - started;
    expect(replies).toHaveLength(TRIGGERS);
    expect(replies.every((status) => status === 204)).toBe(true);
    await sleep(GAP_MS + 500);
    const made = polls().slice(before);
    expect(made.length).toBeGreaterThanOrEqual(1);
    // However long the stream took on this machine: one poll for the first trigger, then at most
    // one per gap while triggers kept coming (without coalescing: hundreds).
    expect(made.length).toBeLessThanOrEqual(2 + Math.floor(streamedMs / GAP_MS));
    for (let i = 1; i < made.length; i++) {
      expect(made[i]!.at - made[i - 1]!.at).toBeGreaterThanOrEqual(GAP_MS - 50);
    }
    expect(cloud.maxConcurrent).toBe(1);
  });

  it('still polls for a trigger that comes after the last poll completed', async () => {
    await sleep(GAP_MS);
    const before = polls().length;
    expect((await t.api('POST', '/v1/update')).status).toBe(204);
    await waitFor('a poll for the new trigger', () => polls().length > before, GAP_MS + 2_000);
    await sleep(300);
    expect(polls().length).toBe(before + 1);
  });
});
