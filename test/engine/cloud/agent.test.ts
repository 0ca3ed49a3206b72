/**
 * A real agent in managed mode against a cloud on 127.0.0.1 (test/helpers/fake-cloud.ts) whose
 * document the test changes: conditional polls, a target replaced while its slow pull is in
 * flight, and documents the agent must reject whole while what runs stays as it is.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  deviceObject,
  sleep,
  startRecordingAgent,
  unique,
  waitFor,
  type TestAgent,
} from '../../helpers/agent.js';
import { appContainers, waitReleaseRunning } from '../../helpers/containers.js';
import { uniqueDeviceUuid } from '../../helpers/docker.js';
import { FakeCloud, type RecordedRequest, type ScriptedResponse } from '../../helpers/fake-cloud.js';
import { BIG_IMAGE, DEMO_1, DEMO_2, ensureBigImageInRegistry } from '../../helpers/images.js';
import type { RecordingEngine } from '../../helpers/recording-engine.js';

const STATE_PATCH = 'PATCH /device/v3/state';
const APP_ID = 9701;

/** What the fake cloud serves now: a body (object, or raw text for broken JSON) and its ETag. */
interface Served {
  etag: string;
  body: object | string;
}

interface DeviceReportBody {
  target_error?: string | null;
}

describe('cloud (real agent, managed mode): polling, a target replaced mid-pull, rejected documents', () => {
  const uuid = uniqueDeviceUuid();
  const appUuid = unique('app');
  let cloud: FakeCloud;
  let t: TestAgent;
  let engine: RecordingEngine;
  let served: Served;
  /** Each target request's If-None-Match and the status it was answered with. */
  const answers: Array<{ ifNoneMatch: string | undefined; status: number }> = [];
  let etags = 0;

  /** One release of the test's app, as the cloud document `{ "<uuid>": device }`. */
  const release = (releaseId: number, image: string, forUuid = uuid) => {
    const releaseUuid = unique('rel');
    const device = deviceObject({
      appUuid,
      appId: APP_ID,
      releaseUuid,
      releaseId,
      services: { main: { image } },
    });
    return { releaseUuid, doc: { [forUuid]: device } };
  };

  /** Makes the cloud serve `body` under a new ETag, and has the agent poll now (POST /v1/update). */
  async function serve(body: object | string): Promise<void> {
    etags += 1;
    served = { etag: `"e${etags}"`, body };
    const trigger = await t.api('POST', '/v1/update');
    expect(trigger.status).toBe(204);
  }

  const answerTarget = (req: RecordedRequest): ScriptedResponse => {
    const ifNoneMatch = req.headers['if-none-match'] as string | undefined;
    const notModified = ifNoneMatch === served.etag;
    answers.push({ ifNoneMatch, status: notModified ? 304 : 200 });
    if (notModified) return { status: 304, headers: { etag: served.etag } };
    // A string body goes out as it is, still labelled JSON: a truncated document, say.
    return {
      status: 200,
      headers: { etag: served.etag, 'content-type': 'application/json' },
      body: served.body,
    };
  };

  /** target_error of the reports PATCHed to the cloud, in order (reports that leave it out skipped). */
  const reportedTargetErrors = (): Array<string | null> =>
    cloud
      .requestsTo(STATE_PATCH)
      .map((r) => (JSON.parse(r.body) as Record<string, DeviceReportBody>)[uuid]?.target_error)
      .filter((e): e is string | null => e !== undefined);

  const deviceTargetError = async (): Promise<string | null> => {
    const reply = await t.api('GET', '/v1/device');
    expect(reply.status).toBe(200);
    return (reply.body as { target_error: string | null }).target_error;
  };

  let first: { releaseUuid: string; doc: object };

  beforeAll(async () => {
    cloud = await FakeCloud.start();
    first = release(1, DEMO_1);
    served = { etag: '"e0"', body: first.doc };
    cloud.fallback(`GET /device/v3/${uuid}/state`, answerTarget);
    cloud.fallback(STATE_PATCH, { status: 200, body: {} });
    ({ t, engine } = await startRecordingAgent({
      config: {
        uuid,
        apiEndpoint: cloud.url,
        deviceApiKey: 'k',
        pollIntervalMs: 1_000,
        reportIntervalMs: 200,
      },
      // serve() makes the agent poll at once, so a target lands while the previous one still
      // pulls; the gap between triggered polls is tested in cloud-trigger-coalesce.test.ts.
      agent: { pollTriggerGapMs: 0 },
    }));
  });
  afterAll(async () => {
    await t?.cleanup();
    await cloud?.close();
  });

  it('converges on the first cloud target; later polls send If-None-Match and get 304', async () => {
    const running = await waitReleaseRunning(t, appUuid, first.releaseUuid);
    const polls = cloud.requestsTo(`GET /device/v3/${uuid}/state`);
    expect(polls[0]!.headers.authorization).toBe('Bearer k');
    expect(answers[0]).toEqual({ ifNoneMatch: undefined, status: 200 });

    const seen = answers.length;
    await waitFor(
      'two polls at the interval answered 304',
      () => answers.slice(seen).filter((a) => a.ifNoneMatch === '"e0"' && a.status === 304).length >= 2,
      5_000,
    );
    // Unchanged polls change nothing.
    expect((await appContainers(t, appUuid)).map((c) => [c.id, c.status])).toEqual([
      [running.main!.id, 'running'],
    ]);
  });

  it('a new cloud target while the previous one is still pulling aborts the pull and converges on the newest', async () => {
    await ensureBigImageInRegistry(); // also removes the local copy, so a real pull happens
    const old = (await appContainers(t, appUuid))[0]!;
    const mark = engine.calls.length;
    const big = release(2, BIG_IMAGE);
    await serve(big.doc);
    await waitFor(
      'the big pull started',
      () => engine.calls.slice(mark).some((c) => c.op === 'pull' && c.arg === BIG_IMAGE),
      10_000,
      5,
    );
    const third = release(3, DEMO_2);
    await serve(third.doc);
    const running = await waitReleaseRunning(t, appUuid, third.releaseUuid);

    const calls = engine.calls.slice(mark);
    const bigPull = calls.filter((c) => c.op === 'pull' && c.arg === BIG_IMAGE);
    // Started once, ended by the abort, never retried for a target that is no longer wanted.
    expect(bigPull.map((c) => c.phase)).toEqual(['start', 'error']);
    expect(calls.some((c) => c.op === 'create' && c.arg.includes(big.releaseUuid))).toBe(false);
    // The old release ran until the newest target replaced it.
    const killOfOld = calls.find((c) => c.op === 'stop' && c.arg === old.id)!;
    expect(killOfOld.at).toBeGreaterThanOrEqual(bigPull[1]!.at);
    expect(running.main!.image).toBe(DEMO_2);
    expect(await t.engine.hasImage(BIG_IMAGE)).toBe(false);
    await waitFor('converged', () => t.agent.loop.status.converged, 5_000);
    expect(await deviceTargetError()).toBeNull();
  });

  it('a document for another uuid, then truncated JSON, are rejected whole and reported; a good one clears the error', async () => {
    const before = (await appContainers(t, appUuid)).map((c) => [c.id, c.status]);
    expect(before).toHaveLength(1);

    const otherUuid = uniqueDeviceUuid();
    await serve(release(4, DEMO_1, otherUuid).doc);
    const foreign = await waitFor(
      'target_error for the other uuid',
      async () => {
        const error = await deviceTargetError();
        return error?.includes(otherUuid) ? error : undefined;
      },
      10_000,
    );
    expect(foreign).toContain('not for this device');
    await waitFor(
      'the report carrying that target_error',
      () => reportedTargetErrors().includes(foreign),
      5_000,
    );

    await serve(`{"${uuid}": {"name": "test-device", "config": {}, "apps": {"${appUuid}": {"id": `);
    const truncated = await waitFor(
      'target_error for the truncated document',
      async () => {
        const error = await deviceTargetError();
        return error?.includes('truncated or malformed JSON') ? error : undefined;
      },
      10_000,
    );
    await waitFor(
      'the report carrying the truncated document error',
      () => reportedTargetErrors().includes(truncated),
      5_000,
    );

    // A poll interval and several loop passes later, what was running still runs: the same containers.
    await sleep(1_500);
    expect(t.agent.loop.status.converged).toBe(true);
    expect((await appContainers(t, appUuid)).map((c) => [c.id, c.status])).toEqual(before);

    const good = release(5, DEMO_1);
    await serve(good.doc);
    await waitReleaseRunning(t, appUuid, good.releaseUuid);
    expect(await deviceTargetError()).toBeNull();
    await waitFor('a report clearing target_error', () => reportedTargetErrors().at(-1) === null, 5_000);
  });
});
