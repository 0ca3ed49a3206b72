import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { removeLocalImage } from '../../helpers/docker.js';
import type { RecordingEngine } from '../../helpers/recording-engine.js';
import {
  deviceObject,
  sleep,
  startRecordingAgent,
  unique,
  waitFor,
  type TestAgent,
} from '../../helpers/agent.js';
import { devices, nextRelease, startApp } from '../../helpers/apps.js';
import { takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2, freshImage } from '../../helpers/images.js';
import { appState, listedLocks, waitUpdateStatus } from '../../helpers/local-api.js';
import { CONTAINER_LOCK_PATHS, hostLockPath, pathExists, type LockKind } from '../../helpers/locks.js';

/** Lock release to the start of the old container's stop: generous, so the test is never flaky. */
const RELEASE_TO_KILL_LIMIT_MS = 3_000;
/** How long a locked app is watched for anything the agent must not do (several fallback polls). */
const LOCKED_OBSERVE_MS = 1_200;

describe('locks (real engine): a user lock blocks the update, its release lets it through', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  let appIds = 8100;

  beforeAll(async () => {
    ({ t, engine } = await startRecordingAgent());
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  /** Removes a host-side lock, then returns ms from the removal to the start of the old container's stop. */
  async function releaseAndTimeKill(hostPath: string, oldId: string): Promise<number> {
    const releasedAt = Date.now();
    await fs.rm(hostPath, { recursive: true, force: true });
    const stop = await waitFor(
      'stop of the old container',
      () => engine.of('stop').find((c) => c.arg === oldId),
      10_000,
      10,
    );
    return stop.at - releasedAt;
  }

  /** While locked: status locked, nothing of the app interrupted, its container untouched. */
  async function expectHeldBack(appUuid: string, oldId: string, lockPath: string): Promise<void> {
    await waitUpdateStatus(t, appUuid, 'locked');
    const locks = await listedLocks(t, appUuid);
    expect(locks).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: lockPath, holder: 'app' })]),
    );
    await sleep(LOCKED_OBSERVE_MS);
    expect(engine.calls.filter((c) => c.arg === oldId && c.op !== 'start')).toEqual([]);
    const still = (await t.containers()).find((c) => c.id === oldId);
    expect(still?.status).toBe('running');
    expect((await appState(t, appUuid))?.updateStatus).toBe('locked');
  }

  const kinds: LockKind[] = ['data', 'balena', 'resin'];
  for (const kind of kinds) {
    it(`a lock at ${CONTAINER_LOCK_PATHS[kind]} holds the release back while the new image is pulled`, async () => {
      const app = await startApp(t, (appIds += 1));
      const old = app.running.main!;
      await takeLockInside(old.id, CONTAINER_LOCK_PATHS[kind]);

      // A fresh image that is only in the registry: the pull must happen while the app is locked.
      const image = await freshImage(`locks-pull-${kind}`);
      expect(await engine.hasImage(image)).toBe(false);
      const next = nextRelease(app, 2, { main: { image } });
      await t.setTarget(next.target);
      await expectHeldBack(app.appUuid, old.id, CONTAINER_LOCK_PATHS[kind]);
      expect(engine.of('pull', 'end').some((c) => c.arg === image)).toBe(true);
      expect(await engine.hasImage(image)).toBe(true);

      const latency = await releaseAndTimeKill(hostLockPath(t.config, app.appId, 'main', kind), old.id);
      expect(latency).toBeLessThan(RELEASE_TO_KILL_LIMIT_MS);
      await waitReleaseRunning(t, app.appUuid, next.releaseUuid, ['main']);
      await waitUpdateStatus(t, app.appUuid, 'done');
      // The agent removes its own lock files right after the update (the plan reports done meanwhile).
      await waitFor(
        'agent locks released',
        async () => (await listedLocks(t, app.appUuid)).length === 0,
        2_000,
        20,
      );
      expect(await pathExists(hostLockPath(t.config, app.appId, 'main', kind))).toBe(false);
      await removeLocalImage(image);
    });
  }

  it('a lock in service A holds back service B of the same app, not another app', async () => {
    const lockedAppUuid = unique('app');
    const freeAppUuid = unique('app');
    const lockedId = (appIds += 1);
    const freeId = (appIds += 1);
    const [r1, r2, f1, f2] = [unique('rel'), unique('rel'), unique('rel'), unique('rel')];
    const lockedApp = (releaseUuid: string, releaseId: number, imageB: string) =>
      deviceObject({
        appUuid: lockedAppUuid,
        appId: lockedId,
        releaseUuid,
        releaseId,
        services: { a: { image: LOCKER_1, imageId: 11 }, b: { image: imageB } },
      });
    const freeApp = (releaseUuid: string, releaseId: number, image: string) =>
      deviceObject({
        appUuid: freeAppUuid,
        appId: freeId,
        releaseUuid,
        releaseId,
        services: { main: { image } },
      });

    await t.setTarget(devices([lockedApp(r1, 1, LOCKER_1), freeApp(f1, 1, LOCKER_1)]));
    const before = await waitReleaseRunning(t, lockedAppUuid, r1, ['a', 'b']);
    await waitReleaseRunning(t, freeAppUuid, f1, ['main']);
    await takeLockInside(before.a!.id);

    // Only B's image changes; the other app moves to a new release too.
    await t.setTarget(devices([lockedApp(r2, 2, LOCKER_2), freeApp(f2, 2, LOCKER_2)]));
    await waitReleaseRunning(t, freeAppUuid, f2, ['main']);
    await expectHeldBack(lockedAppUuid, before.b!.id, CONTAINER_LOCK_PATHS.balena);
    const locks = await listedLocks(t, lockedAppUuid);
    expect(locks.filter((l) => l.holder === 'app').map((l) => l.serviceName)).toEqual(['a']);
    expect((await t.containers()).find((c) => c.id === before.a!.id)?.status).toBe('running');

    const latency = await releaseAndTimeKill(hostLockPath(t.config, lockedId, 'a', 'balena'), before.b!.id);
    expect(latency).toBeLessThan(RELEASE_TO_KILL_LIMIT_MS);
    await waitReleaseRunning(t, lockedAppUuid, r2, ['a', 'b']);
  });

  const hostSideLocks: Array<[string, (file: string) => Promise<void>]> = [
    ['a directory', (file) => fs.mkdir(file, { recursive: true }).then(() => undefined)],
    [
      'a dangling symlink',
      async (file) => {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.symlink('/nonexistent/bosun-lock-target', file);
      },
    ],
  ];
  for (const [kind, make] of hostSideLocks) {
    it(`${kind} at the lock path (made on the host) counts as a lock`, async () => {
      const app = await startApp(t, (appIds += 1));
      const old = app.running.main!;
      const file = hostLockPath(t.config, app.appId, 'main', 'balena');
      await make(file);
      const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
      await t.setTarget(next.target);
      await expectHeldBack(app.appUuid, old.id, CONTAINER_LOCK_PATHS.balena);
      expect(await pathExists(file)).toBe(true); // never removed without an override

      const latency = await releaseAndTimeKill(file, old.id);
      expect(latency).toBeLessThan(RELEASE_TO_KILL_LIMIT_MS);
      await waitReleaseRunning(t, app.appUuid, next.releaseUuid, ['main']);
    });
  }
});
