import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ContainerInfo } from '../../../src/engine/types.js';
import { removeLocalImage } from '../../helpers/docker.js';
import { deviceObject, startRecordingAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { appContainers, waitReleaseRunning } from '../../helpers/containers.js';
import { DEMO_1, DEMO_2, freshImage } from '../../helpers/images.js';
import type { EngineCall, RecordingEngine } from '../../helpers/recording-engine.js';

const STRATEGY = 'io.balena.update.strategy';

describe('reconcile (real engine): update strategies, observed through the engine calls', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  beforeAll(async () => {
    ({ t, engine } = await startRecordingAgent());
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  /** Installs release 1 of a one-service app, then targets release 2; returns the old container and call log mark. */
  async function update(
    appId: number,
    image1: string,
    image2: string,
    labels: Record<string, string>,
  ): Promise<{ appUuid: string; old: ContainerInfo; r2: string; mark: number }> {
    const appUuid = unique('app');
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r1, releaseId: 1, services: { main: { image: image1 } } }),
    );
    const old = (await waitReleaseRunning(t, appUuid, r1)).main!;
    const mark = engine.calls.length;
    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId,
        releaseUuid: r2,
        releaseId: 2,
        services: { main: { image: image2, labels } },
      }),
    );
    return { appUuid, old, r2, mark };
  }

  const releaseRunning = async (appUuid: string, releaseUuid: string) =>
    (await waitReleaseRunning(t, appUuid, releaseUuid)).main!;

  /** The one call of `op` on `arg` in `phase` since `mark`. */
  function call(mark: number, op: string, arg: string, phase: EngineCall['phase']): EngineCall {
    const found = engine.calls.slice(mark).filter((c) => c.op === op && c.arg === arg && c.phase === phase);
    expect([op, arg, phase, found.length]).toEqual([op, arg, phase, 1]);
    return found[0]!;
  }

  it('download-then-kill: the old container keeps running until the new image is pulled', async () => {
    const image2 = await freshImage('strategy-dtk');
    const { appUuid, old, r2, mark } = await update(8401, DEMO_1, image2, {
      [STRATEGY]: 'download-then-kill',
    });
    await releaseRunning(appUuid, r2);
    const pullEnd = call(mark, 'pull', image2, 'end');
    const stopStart = call(mark, 'stop', old.id, 'start');
    expect(engine.calls.indexOf(pullEnd)).toBeLessThan(engine.calls.indexOf(stopStart));
    expect(pullEnd.at).toBeLessThanOrEqual(stopStart.at);
  });

  it('kill-then-download: the old container is stopped and removed before the pull starts', async () => {
    const image2 = await freshImage('strategy-ktd');
    const { appUuid, old, r2, mark } = await update(8402, DEMO_1, image2, {
      [STRATEGY]: 'kill-then-download',
    });
    await releaseRunning(appUuid, r2);
    const removed = call(mark, 'remove', old.id, 'end');
    const pullStart = call(mark, 'pull', image2, 'start');
    expect(call(mark, 'stop', old.id, 'end').at).toBeLessThanOrEqual(removed.at);
    expect(engine.calls.indexOf(removed)).toBeLessThan(engine.calls.indexOf(pullStart));
  });

  it('delete-then-download: the old container and its image are removed before the pull starts', async () => {
    // The old image is deleted, so it must be this test's own, never a shared sample image.
    const [image1, image2] = await Promise.all([
      freshImage('strategy-dtd-old'),
      freshImage('strategy-dtd-new'),
    ]);
    const { appUuid, old, r2, mark } = await update(8403, image1, image2, {
      [STRATEGY]: 'delete-then-download',
    });
    await releaseRunning(appUuid, r2);
    const removed = call(mark, 'remove', old.id, 'end');
    const imageRemoved = call(mark, 'removeImage', image1, 'end');
    const pullStart = call(mark, 'pull', image2, 'start');
    expect(engine.calls.indexOf(removed)).toBeLessThan(engine.calls.indexOf(imageRemoved));
    expect(engine.calls.indexOf(imageRemoved)).toBeLessThan(engine.calls.indexOf(pullStart));
    expect(await t.engine.hasImage(image1)).toBe(false);
    await removeLocalImage(image2);
  });

  it('hand-over: the new container runs beside the old one until it writes handover-complete', async () => {
    const appId = 8404;
    const labels = { [STRATEGY]: 'hand-over', 'io.balena.update.handover-timeout': '60000' };
    const { appUuid, old, r2, mark } = await update(appId, DEMO_1, DEMO_2, labels);
    const fresh = await waitFor('both releases running side by side', async () => {
      const cs = await appContainers(t, appUuid);
      const next = cs.find((c) => c.releaseUuid === r2 && c.status === 'running');
      return cs.length === 2 && cs.every((c) => c.status === 'running') ? next : undefined;
    });
    // Several passes later the old one still runs: nothing but the marker (or the timeout) ends it.
    for (let i = 0; i < 3; i += 1) {
      t.agent.loop.trigger();
      await t.agent.loop.nextPass();
    }
    expect((await t.engine.inspectContainer(old.id)).status).toBe('running');
    expect(engine.interruptedSince(mark, old.id)).toBe(false);

    // The new service says it is ready (host side of /tmp/balena).
    const marker = path.join(t.config.lockDir, String(appId), 'main', 'handover-complete');
    await fs.writeFile(marker, '');
    const markedAt = Date.now();
    const last = await releaseRunning(appUuid, r2);
    expect(last.id).toBe(fresh.id);
    expect(call(mark, 'stop', old.id, 'start').at).toBeGreaterThanOrEqual(markedAt);
    call(mark, 'remove', old.id, 'end');
    // The marker is consumed, so it cannot cut the next hand-over short.
    await waitFor('marker cleared', async () => !(await fs.lstat(marker).catch(() => undefined)), 5_000);
  });

  it('hand-over: without a marker the old container is killed once the timeout label passes', async () => {
    const timeoutMs = 1500;
    const labels = { [STRATEGY]: 'hand-over', 'io.balena.update.handover-timeout': String(timeoutMs) };
    const { appUuid, old, r2, mark } = await update(8405, DEMO_2, DEMO_1, labels);
    const fresh = await releaseRunning(appUuid, r2);
    const newStarted = Date.parse((await t.engine.inspectContainer(fresh.id)).startedAt!);
    const oldStop = call(mark, 'stop', old.id, 'start');
    const waited = oldStop.at - newStarted;
    expect(waited).toBeGreaterThanOrEqual(timeoutMs - 50); // engine and host clocks: allow a little skew
    expect(waited).toBeLessThan(timeoutMs + 1500); // woken by the hand-over timer, not a slow poll
  });
});
