import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  TargetPoller,
  targetDocumentHash,
  type PollResult,
  type TargetPollerDeps,
  type TargetVerdict,
} from '../../../src/cloud/target-poller.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { FakeCloud, type RecordedRequest, type ScriptedResponse } from '../../helpers/fake-cloud.js';
import { sleep, waitFor } from '../../helpers/wait.js';
import { captureLog } from '../../helpers/log-capture.js';

const UUID = 'd0c0ffee00000000000000000000abcd';
const ROUTE = `GET /device/v3/${UUID}/state`;
const KEY = 'device-key-SHOULD-NEVER-BE-LOGGED-4f2a';
const DOC = { [UUID]: { name: 'kitchen-pi', config: {}, apps: {} } };
const DOC2 = { [UUID]: { name: 'kitchen-pi', config: { SUPERVISOR_POLL_INTERVAL: '60000' }, apps: {} } };
const json = (body: object, etag?: string): ScriptedResponse => ({
  status: 200,
  headers: etag ? { etag } : {},
  body,
});
/** Answers 304 to a request carrying `etag`, else the document. */
const conditional =
  (etag: string, body: object) =>
  (req: RecordedRequest): ScriptedResponse =>
    req.headers['if-none-match'] === etag ? { status: 304, headers: { etag } } : json(body, etag);

interface Harness {
  poller: TargetPoller;
  results: PollResult[];
  targets: unknown[];
  rejected: string[];
  logText: () => string;
}

describe('cloud/poll TargetPoller against a real HTTP server', () => {
  let fake: FakeCloud;
  let dir: string;
  const pollers: TargetPoller[] = [];

  beforeEach(async () => {
    fake = await FakeCloud.start();
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-poll-'));
  });

  afterEach(async () => {
    await Promise.all(pollers.splice(0).map((p) => p.stop()));
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function makePoller(over: Partial<TargetPollerDeps> & { verdict?: TargetVerdict } = {}): Harness {
    const captured = captureLog();
    const h: Omit<Harness, 'poller'> = {
      results: [],
      targets: [],
      rejected: [],
      logText: captured.text,
    };
    const poller = new TargetPoller({
      endpoint: fake.url,
      uuid: UUID,
      getDeviceKey: () => KEY,
      store: new JsonStore(dir),
      log: captured.log,
      onTarget: async (doc) => {
        h.targets.push(doc);
        return over.verdict ?? { accepted: true };
      },
      onRejected: (reason) => h.rejected.push(reason),
      intervalMs: () => 100,
      instantUpdates: () => true,
      userAgent: 'bosun/test',
      random: () => 0,
      onPollResult: (r) => h.results.push(r),
      ...over,
    });
    pollers.push(poller);
    return { ...h, poller };
  }

  const until = async (check: () => boolean, timeoutMs = 5000): Promise<void> => {
    await waitFor('the poller condition', check, timeoutMs, 10);
  };

  it('sends the device key and User-Agent, keeps the ETag, and a new poller on the same store sends it', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const first = makePoller();
    first.poller.start();
    await until(() => first.results.length >= 2);
    await first.poller.stop();

    expect(first.results.slice(0, 2)).toEqual(['changed', 'unchanged']);
    expect(first.targets).toEqual([DOC]);
    const [r1, r2] = fake.requests;
    expect(r1!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(r1!.headers['user-agent']).toBe('bosun/test');
    expect(r1!.headers['if-none-match']).toBeUndefined();
    expect(r2!.headers['if-none-match']).toBe('"v1"');

    const seen = fake.requests.length;
    const second = makePoller();
    expect(await second.poller.storedTarget()).toMatchObject({
      etag: '"v1"',
      bodyHash: targetDocumentHash(DOC),
    });
    second.poller.start();
    await until(() => second.results.length >= 1);
    expect(fake.requests[seen]!.headers['if-none-match']).toBe('"v1"');
    expect(second.results[0]).toBe('unchanged');
    expect(second.targets).toEqual([]);
  });

  it('takes a changed document and stores its new ETag', async () => {
    fake.script(ROUTE, json(DOC, '"v1"'), json(DOC2, '"v2"'));
    fake.fallback(ROUTE, conditional('"v2"', DOC2));
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 3);
    expect(h.results.slice(0, 3)).toEqual(['changed', 'changed', 'unchanged']);
    expect(h.targets).toEqual([DOC, DOC2]);
    expect(await new JsonStore(dir).read('cloud-target')).toEqual({
      etag: '"v2"',
      bodyHash: targetDocumentHash(DOC2),
      receivedAt: expect.any(String),
    });
  });

  it('treats a 304 without an ETag on file as an error', async () => {
    fake.fallback(ROUTE, { status: 304 });
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 1);
    expect(h.results[0]).toBe('error');
    expect(h.logText()).toContain('304 Not Modified, but no ETag was sent');
  });

  it('retries a 500 with backoff within the interval', async () => {
    fake.script(ROUTE, { status: 500, body: 'boom' });
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller({ intervalMs: () => 1000, random: () => 0.5 });
    h.poller.start();
    await until(() => h.results.length >= 2);
    expect(h.results.slice(0, 2)).toEqual(['error', 'changed']);
    const gap = fake.requests[1]!.at - fake.requests[0]!.at;
    expect(gap).toBeLessThan(900); // backoff (<= 500 ms here), not the 1000 ms interval
  });

  it('honours Retry-After: 2 on a 503 as seconds, even against a trigger', async () => {
    fake.script(ROUTE, { status: 503, headers: { 'retry-after': '2' } });
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 1);
    expect(h.poller.triggerPoll({ force: true })).toBe(true);
    await until(() => h.results.length >= 2);
    const gap = fake.requests[1]!.at - fake.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(1950);
    expect(h.results.slice(0, 2)).toEqual(['error', 'changed']);
  });

  it('honours an HTTP-date Retry-After on a 429', async () => {
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    fake.script(ROUTE, { status: 429, headers: { 'retry-after': at.toUTCString() } });
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 2);
    expect(fake.requests[1]!.at).toBeGreaterThanOrEqual(at.getTime() - 50);
  });

  it('retries after a connection reset', async () => {
    fake.script(ROUTE, { destroy: true });
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 2);
    expect(h.results.slice(0, 2)).toEqual(['error', 'changed']);
    expect(h.logText()).toContain('cloud unreachable');
  });

  it('gives up on a request that never answers after requestTimeoutMs, and retries', async () => {
    fake.script(ROUTE, { hang: true });
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller({ requestTimeoutMs: 200 });
    const started = Date.now();
    h.poller.start();
    await until(() => h.results.length >= 2);
    expect(h.results.slice(0, 2)).toEqual(['error', 'changed']);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(h.logText()).toMatch(/ETIMEDOUT|Timeout/);
  });

  it.each([
    [
      'truncated JSON',
      {
        status: 200,
        headers: { 'content-type': 'application/json', etag: '"bad"' },
        body: '{"d0c0": {"apps": {',
      },
      /truncated or malformed JSON/,
    ],
    [
      'an HTML error page with 200',
      {
        status: 200,
        headers: { 'content-type': 'text/html', etag: '"bad"' },
        body: '<html><h1>Gateway</h1></html>',
      },
      /not JSON \(content-type text\/html/,
    ],
  ])('rejects %s without calling onTarget or storing its ETag', async (_name, answer, reason) => {
    fake.script(ROUTE, json(DOC, '"v1"'), answer);
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller();
    h.poller.start();
    await until(() => h.results.length >= 3);
    expect(h.results.slice(0, 3)).toEqual(['changed', 'rejected', 'unchanged']);
    expect(h.targets).toEqual([DOC]);
    expect(h.rejected).toHaveLength(1);
    expect(h.rejected[0]).toMatch(reason);
    expect(fake.requests[2]!.headers['if-none-match']).toBe('"v1"');
  });

  it('does not store the ETag of a document onTarget rejects, and refetches it at the normal interval', async () => {
    const other = { ['f'.repeat(32)]: { apps: {} } };
    fake.fallback(ROUTE, conditional('"other"', other));
    const h = makePoller({ verdict: { accepted: false, reason: 'document is for another uuid' } });
    h.poller.start();
    await until(() => h.results.length >= 3);
    expect(h.results.slice(0, 3)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(h.rejected[0]).toBe('document is for another uuid');
    expect(fake.requests.every((r) => r.headers['if-none-match'] === undefined)).toBe(true);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(95);
    expect(await new JsonStore(dir).read('cloud-target')).toBeUndefined();
    expect(h.poller.lastSuccessAt()).toBeDefined(); // the cloud answered: polling itself is fine
  });

  it('logs a refused key without the key, and retries at the poll interval', async () => {
    fake.fallback(ROUTE, { status: 401, body: { message: 'unauthorized' } });
    const h = makePoller({ intervalMs: () => 300 });
    h.poller.start();
    await until(() => h.results.length >= 3);
    expect(h.results.slice(0, 3)).toEqual(['auth-error', 'auth-error', 'auth-error']);
    for (let i = 1; i < 3; i++) {
      expect(fake.requests[i]!.at - fake.requests[i - 1]!.at).toBeGreaterThanOrEqual(290);
    }
    expect(h.logText()).toContain('refused the device key');
    expect(h.logText()).not.toContain(KEY);
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(h.poller.lastSuccessAt()).toBeUndefined();
  });

  it('adds jitter within 10% of the interval', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller({ intervalMs: () => 100, random: () => 1 });
    h.poller.start();
    await until(() => h.results.length >= 4);
    await h.poller.stop();
    // random 1: first poll after 10 ms (10% of the interval), then interval + 10% each time.
    for (let i = 1; i < 4; i++) {
      const gap = fake.requests[i]!.at - fake.requests[i - 1]!.at;
      expect(gap).toBeGreaterThanOrEqual(108);
      expect(gap).toBeLessThan(300);
    }
  });

  it('coalesces 10 triggers into at most 2 requests, and at most one follow-up per poll', async () => {
    fake.script(ROUTE, json(DOC, '"v1"'));
    // Every answer after the first takes 150 ms, so triggers can arrive while a poll is in flight.
    fake.fallback(ROUTE, (req) => ({
      ...(conditional('"v1"', DOC)(req) as { status: number }),
      delayMs: 150,
    }));
    // No trigger gap here: this is about coalescing per poll; the gap has tests of its own.
    const h = makePoller({ intervalMs: () => 60_000, triggerGapMs: 0 });
    h.poller.start();
    await until(() => h.results.length >= 1);

    const before = fake.requests.length;
    const answers = Array.from({ length: 10 }, () => h.poller.triggerPoll({}));
    expect(answers.every(Boolean)).toBe(true);
    await sleep(50); // the triggered poll is now in flight
    for (let i = 0; i < 10; i++) h.poller.triggerPoll({});
    await sleep(600);
    const made = fake.requests.length - before;
    expect(made).toBe(2); // the trigger's poll plus one follow-up for those that came during it
    expect(fake.maxConcurrent).toBe(1);
    // The follow-up starts only once the triggered poll has been answered (150 ms).
    expect(fake.requests[before + 1]!.at - fake.requests[before]!.at).toBeGreaterThanOrEqual(140);
  });

  it('makes at most one more poll for 500 triggers streaming in while polls are answered (attack review #12)', async () => {
    fake.fallback(ROUTE, (req) => ({ ...(conditional('"v1"', DOC)(req) as { status: number }), delayMs: 5 }));
    const GAP = 1_000;
    const h = makePoller({ intervalMs: () => 60_000, triggerGapMs: GAP });
    h.poller.start();
    await until(() => h.results.length >= 1); // the start-up poll

    // 500 triggers over about half a second, as a looping app's /v1/update calls arrive: each
    // poll is answered in 5 ms, so per-poll coalescing alone would poll again and again.
    for (let batch = 0; batch < 50; batch++) {
      for (let i = 0; i < 10; i++) expect(h.poller.triggerPoll({ force: i % 2 === 0 })).toBe(true);
      await sleep(10);
    }
    await sleep(GAP + 300);
    expect(fake.requests).toHaveLength(2); // the start-up poll and one for all 500 triggers
    expect(fake.maxConcurrent).toBe(1);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeGreaterThanOrEqual(GAP - 20);

    // A trigger after that poll completed still polls again, once the gap has passed.
    await until(() => h.results.length >= 2);
    h.poller.triggerPoll({});
    await until(() => fake.requests.length >= 3, GAP + 1_000);
    expect(fake.requests[2]!.at - fake.requests[1]!.at).toBeGreaterThanOrEqual(GAP - 20);
    await sleep(300);
    expect(fake.requests).toHaveLength(3);
  });

  it('never postpones a poll already due sooner than the trigger gap', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    // Regular polls every ~200 ms; a trigger with a 5 s gap must not push the next one back.
    const h = makePoller({ intervalMs: () => 200, triggerGapMs: 5_000 });
    h.poller.start();
    await until(() => h.results.length >= 1);
    h.poller.triggerPoll({});
    await until(() => h.results.length >= 2, 1_000);
    expect(fake.requests[1]!.at - fake.requests[0]!.at).toBeLessThan(1_000);
  });

  it('ignores a trigger when instant updates are off, unless forced', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller({ intervalMs: () => 60_000, instantUpdates: () => false, triggerGapMs: 0 });
    expect(h.poller.triggerPoll({ force: true })).toBe(false); // not started
    h.poller.start();
    await until(() => h.results.length >= 1);
    expect(h.poller.triggerPoll({})).toBe(false);
    await sleep(100);
    expect(fake.requests).toHaveLength(1);
    expect(h.poller.triggerPoll({ force: true })).toBe(true);
    await until(() => h.results.length >= 2);
    expect(fake.requests).toHaveLength(2);
  });

  it('reports health from the last success', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    const h = makePoller({ intervalMs: () => 1000 });
    expect(h.poller.healthy()).toBe(true);
    h.poller.start();
    await until(() => h.results.length >= 1);
    const last = h.poller.lastSuccessAt()!;
    expect(h.poller.healthy(last + 3000)).toBe(true);
    expect(h.poller.healthy(last + 3001)).toBe(false);
  });

  it('survives an onTarget that throws: logged, ETag not stored, polling goes on', async () => {
    fake.fallback(ROUTE, conditional('"v1"', DOC));
    let calls = 0;
    const h = makePoller({
      onTarget: async () => {
        calls += 1;
        if (calls === 1) throw new Error('validator exploded');
        return { accepted: true };
      },
    });
    h.poller.start();
    await until(() => h.results.length >= 3);
    expect(h.results.slice(0, 3)).toEqual(['error', 'changed', 'unchanged']);
    expect(fake.requests[1]!.headers['if-none-match']).toBeUndefined();
    expect(h.logText()).toContain('validator exploded');
  });

  it('stop() aborts a hanging request and no poll follows', async () => {
    fake.fallback(ROUTE, { hang: true });
    const h = makePoller({ requestTimeoutMs: 30_000 });
    h.poller.start();
    await fake.waitForRequests(1);
    const t = Date.now();
    await h.poller.stop();
    expect(Date.now() - t).toBeLessThan(1000);
    await sleep(300);
    expect(fake.requests).toHaveLength(1);
    expect(h.results).toEqual([]);
  });
});
