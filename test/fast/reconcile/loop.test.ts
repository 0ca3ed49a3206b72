import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { PullError } from '../../../src/engine/errors.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { LockManager } from '../../../src/locks/lock-manager.js';
import { ReconcileLoop } from '../../../src/reconcile/reconcile-loop.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { PersistedSet } from '../../../src/store/persisted-set.js';
import { silentLogger } from '../../../src/util/logger.js';
import { app, service, target } from '../../helpers/builders.js';
import { waitFor } from '../../helpers/wait.js';
import { LockedError } from '../../../src/util/errors.js';
import { pathExists } from '../../../src/util/fs.js';

/** The real loop, planner, executor and lock code over the in-memory engine and real lock files. */
async function setup(
  engineOptions: ConstructorParameters<typeof MemoryEngine>[0] = {},
  makeLocks: (layout: { lockDir: string; dataDir: string }) => LockManager = (layout) =>
    new LockManager(layout, 'device-1', silentLogger()),
) {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-loop-'));
  const layout = { lockDir: path.join(root, 'locks'), dataDir: path.join(root, 'data') };
  const engine = new MemoryEngine(engineOptions);
  const log = silentLogger();
  const locks = makeLocks(layout);
  const interrupted: string[] = [];
  const pulledImages = await new PersistedSet(new JsonStore(layout.dataDir), 'pulled-images').load();
  const heldStopped = await new PersistedSet(new JsonStore(layout.dataDir), 'held-stopped').load();
  const loop = new ReconcileLoop({
    pulledImages,
    heldStopped,
    deviceUuid: 'device-1',
    engine,
    locks,
    layout,
    log,
    specContext: () => ({ deviceUuid: 'device-1', layout, apiHost: '127.0.0.1', apiPort: 1, appKeys: {} }),
    deviceOverride: () => false,
    onInterrupt: (step) => interrupted.push(step.containerId),
    fallbackPollMs: 5_000, // long, so the tests prove the watcher (not the poll) wakes the loop
    resyncMs: 60_000,
    backoff: { baseMs: 50, capMs: 200 },
  });
  loop.start();
  const running = async (releaseUuid: string) =>
    (await engine.listContainers('device-1')).filter(
      (c) => c.releaseUuid === releaseUuid && c.status === 'running',
    );
  return { root, layout, engine, locks, loop, interrupted, running, pulledImages, heldStopped };
}

const main1 = service('main', { image: 'reg/main:1', imageId: 1 });
const main2 = service('main', { image: 'reg/main:2', imageId: 2 });
const rel1 = target(app('a1', 1, { uuid: 'rel1', id: 1, services: [main1] }));
const rel2 = target(app('a1', 1, { uuid: 'rel2', id: 2, services: [main2] }));
const userLockPath = (layout: { lockDir: string }) => path.join(layout.lockDir, '1', 'main', 'updates.lock');

describe('reconcile/loop (memory engine, real lock files)', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
  });

  it('converges on a target and then on the next one', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    t.loop.setTarget(rel2);
    await waitFor(
      'release 2 alone',
      async () => {
        const all = await t.engine.listContainers('device-1');
        return all.length === 1 && (await t.running('rel2')).length === 1;
      },
      5_000,
    );
    // The pass after the last step says so (the engine shows the end state a moment earlier).
    await waitFor('converged', () => t.loop.status.converged, 5_000);
  });

  it('removes the images it pulled once no release uses them, never ones it found on the engine', async () => {
    const side1 = service('side', { image: 'reg/side:1', imageId: 3 });
    const withSide = (uuid: string, id: number, main: typeof main1) =>
      target(app('a1', 1, { uuid, id, services: [main, side1] }));
    // reg/side:1 was on the engine before the agent needed it.
    const t = await setup({ images: ['reg/side:1'] });
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(withSide('rel1', 1, main1));
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 2, 5_000);
    expect([...t.pulledImages.view]).toEqual(['reg/main:1']);

    t.loop.setTarget(withSide('rel2', 2, main2));
    await waitFor('release 2 converged', async () => (await t.running('rel2')).length === 2, 5_000);
    await waitFor('old image removed', async () => !(await t.engine.hasImage('reg/main:1')), 5_000);
    expect([...t.pulledImages.view]).toEqual(['reg/main:2']);
    expect(await t.engine.hasImage('reg/main:2')).toBe(true);

    t.loop.setTarget(target());
    await waitFor('app removed', async () => (await t.engine.listContainers('device-1')).length === 0, 5_000);
    await waitFor('its image removed', async () => !(await t.engine.hasImage('reg/main:2')), 5_000);
    expect([...t.pulledImages.view]).toEqual([]);
    expect(await t.engine.hasImage('reg/side:1')).toBe(true);
  });

  it('waits on a user lock, downloads meanwhile, and goes on the moment it is released', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const lock = userLockPath(t.layout);
    await fs.writeFile(lock, '', { flag: 'wx' });
    t.loop.setTarget(rel2);
    await waitFor('locked', () => t.loop.status.apps.a1?.phase === 'locked', 5_000);
    expect(await t.engine.hasImage('reg/main:2')).toBe(true);
    expect(t.interrupted).toEqual([]);
    expect(t.loop.status.apps.a1?.lockPaths).toEqual(['/tmp/balena/updates.lock']);

    const releasedAt = Date.now();
    await fs.rm(lock);
    await waitFor('release 2 running', async () => (await t.running('rel2')).length === 1, 4_000);
    // well under the 5 s fallback poll: the watcher woke the loop
    expect(Date.now() - releasedAt).toBeLessThan(3_000);
  });

  it('never kills when the app takes its lock between the scan and the agent taking it', async () => {
    /** An app racing the agent: it creates its lock just before the agent's attempt. */
    class RacingLocks extends LockManager {
      raceWith: string | undefined;
      override async take(...args: Parameters<LockManager['take']>) {
        if (this.raceWith) await fs.writeFile(this.raceWith, '', { flag: 'wx' });
        this.raceWith = undefined;
        return super.take(...args);
      }
    }
    let racing: RacingLocks | undefined;
    const t = await setup({}, (layout) => (racing = new RacingLocks(layout, 'device-1', silentLogger())));
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    racing!.raceWith = userLockPath(t.layout);
    t.loop.setTarget(rel2);
    await waitFor('locked', () => t.loop.status.apps.a1?.phase === 'locked', 5_000);
    expect(t.interrupted).toEqual([]);
    expect(await t.running('rel1')).toHaveLength(1);
    await fs.rm(userLockPath(t.layout));
    await waitFor('release 2 running', async () => (await t.running('rel2')).length === 1, 4_000);
  });

  it('a force reaches an apply already waiting on the lock, and removes the user lock', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const lock = userLockPath(t.layout);
    await fs.writeFile(lock, 'app', { flag: 'wx' });
    t.loop.setTarget(rel2);
    await waitFor('locked', () => t.loop.status.apps.a1?.phase === 'locked', 5_000);
    t.loop.trigger({ force: true });
    await waitFor('release 2 running', async () => (await t.running('rel2')).length === 1, 4_000);
    await expect(fs.lstat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(t.loop.status.forced).toBe(false); // a force lasts until the device converged once
  });

  it("a force for one app (an app key's) removes that app's lock only; the other app keeps waiting", async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    const web1 = service('web', { image: 'reg/main:1', imageId: 11 });
    const web2 = service('web', { image: 'reg/main:2', imageId: 12 });
    const both = (main: typeof main1, web: typeof web1, n: number) =>
      target(
        app('a1', 1, { uuid: `a-rel${n}`, id: n, services: [main] }),
        app('a2', 2, { uuid: `b-rel${n}`, id: 10 + n, services: [web] }),
      );
    t.loop.setTarget(both(main1, web1, 1));
    await waitFor(
      'both apps running',
      async () => (await t.running('a-rel1')).length + (await t.running('b-rel1')).length === 2,
      5_000,
    );
    const lockA = path.join(t.layout.lockDir, '1', 'main', 'updates.lock');
    const lockB = path.join(t.layout.lockDir, '2', 'web', 'updates.lock');
    await fs.writeFile(lockA, 'app', { flag: 'wx' });
    await fs.writeFile(lockB, 'app', { flag: 'wx' });
    t.loop.setTarget(both(main2, web2, 2));
    await waitFor(
      'both locked',
      () => t.loop.status.apps.a1?.phase === 'locked' && t.loop.status.apps.a2?.phase === 'locked',
      5_000,
    );
    t.loop.trigger({ forceApps: [2] });
    await waitFor('app 2 on release 2', async () => (await t.running('b-rel2')).length === 1, 4_000);
    await expect(fs.lstat(lockB)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await fs.lstat(lockA)).isFile()).toBe(true);
    expect(t.loop.status.apps.a1?.phase).toBe('locked');
    expect(await t.running('a-rel1')).toHaveLength(1);
    expect(t.loop.status.forced).toBe(true); // not converged yet: app 1 still waits
  });

  it('a newer target cancels a pull in flight and converges on the newest', async () => {
    const t = await setup({ pullDelayMs: 2_000, images: ['reg/main:3'] });
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('pulling', () => t.loop.status.apps.a1?.phase === 'downloading', 5_000);
    const started = Date.now();
    const main3 = service('main', { image: 'reg/main:3', imageId: 3 });
    t.loop.setTarget(target(app('a1', 1, { uuid: 'rel3', id: 3, services: [main3] })));
    await waitFor('release 3 running', async () => (await t.running('rel3')).length === 1, 5_000);
    expect(Date.now() - started).toBeLessThan(1_500); // did not wait for the 2 s pull of rel1
    expect(await t.engine.hasImage('reg/main:1')).toBe(false);
  });

  it('a failing step backs off while the other apps proceed, then succeeds', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.engine.failNext('pullImage', new PullError('reg/main:1', 'registry hiccup'));
    t.engine.failNext('pullImage', new PullError('reg/main:1', 'registry hiccup'));
    const web = service('web', { image: 'reg/web:1', imageId: 9 });
    const both = target(
      app('a1', 1, { uuid: 'rel1', id: 1, services: [main1] }),
      app('a2', 2, { uuid: 'relw', id: 1, services: [web] }),
    );
    t.loop.setTarget(both);
    await waitFor(
      'both running',
      async () => (await t.running('rel1')).length + (await t.running('relw')).length === 2,
      5_000,
    );
    expect(t.engine.callCount('pullImage')).toBeGreaterThanOrEqual(4);
  });

  it('a hand-over marker the app made as a directory (with a link in it) ends the hand-over once', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    const handover = { strategy: 'hand-over' as const, handoverTimeoutMs: 60_000 };
    t.loop.setTarget(target(app('a1', 1, { uuid: 'rel1', id: 1, services: [{ ...main1, ...handover }] })));
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    t.loop.setTarget(target(app('a1', 1, { uuid: 'rel2', id: 2, services: [{ ...main2, ...handover }] })));
    await waitFor('both running', async () => (await t.running('rel2')).length === 1, 5_000);
    // The new service says it is done, but as a directory (before: the kill failed for ever).
    const marker = path.join(t.layout.lockDir, '1', 'main', 'handover-complete');
    await fs.mkdir(marker);
    await fs.symlink(t.layout.dataDir, path.join(marker, 'link'));
    await waitFor(
      'release 2 alone, marker consumed',
      async () =>
        (await t.engine.listContainers('device-1')).length === 1 &&
        !(await pathExists(marker)) &&
        t.loop.status.apps.a1?.phase === 'done',
      5_000,
    );
    expect(t.loop.status.apps.a1).toMatchObject({ phase: 'done', error: undefined });
    expect(await pathExists(t.layout.dataDir)).toBe(true);
  });

  it('forgets the failure of a step the plan no longer has (no stale error once converged)', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    const hiccups = 50;
    for (let i = 0; i < hiccups; i += 1) {
      t.engine.failNext('pullImage', new PullError('reg/main:1', 'registry hiccup'));
    }
    t.loop.setTarget(rel1);
    await waitFor('the pull failing', async () => t.loop.status.apps.a1?.error !== undefined, 5_000);
    // The image turns up by other means (the failures used up outside the loop): the fetch step
    // leaves the plan without ever succeeding, and nothing else will clear its record.
    for (let i = 0; i <= hiccups; i += 1) {
      const pulled = await t.engine.pullImage('reg/main:1').then(
        () => true,
        () => false,
      );
      if (pulled) break;
    }
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    await waitFor('converged', async () => t.loop.status.converged, 5_000);
    expect(t.loop.status.apps.a1).toMatchObject({ phase: 'done', error: undefined });
  });

  it('remembers since when passes fail (engine unreachable) and forgets once one succeeds', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.engine.setAvailable(false);
    t.loop.setTarget(rel1);
    await waitFor('failing', () => t.loop.status.failingSince !== undefined, 5_000);
    const since = t.loop.status.failingSince!;
    await waitFor('a second failure', () => t.loop.status.lastError !== undefined, 5_000);
    expect(t.loop.status.failingSince).toBe(since);
    t.engine.setAvailable(true);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    expect(t.loop.status.failingSince).toBeUndefined();
  });

  it('an API restart is planned by the loop: the container is killed under the lock and made anew', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const [before] = await t.running('rel1');
    const acted = await t.loop.submit({ kind: 'restart', appUuid: 'a1' }, { force: false });
    expect(acted).toEqual([before!.id]);
    expect(t.interrupted).toEqual([before!.id]); // through the executor's lock-checked kill
    const [after] = await t.running('rel1');
    expect(after!.id).not.toBe(before!.id);
    expect(await fs.readdir(path.join(t.layout.lockDir, '1', 'main'))).toEqual([]); // lock released
  });

  it('an API stop holds the container stopped (persisted) until an API start', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const [c] = await t.running('rel1');
    expect(await t.loop.submit({ kind: 'stop', appUuid: 'a1' }, { force: false })).toEqual([c!.id]);
    expect((await t.engine.inspectContainer(c!.id)).status).toBe('exited');
    expect(t.heldStopped.view.has(c!.id)).toBe(true);
    for (let i = 0; i < 3; i += 1) {
      t.loop.trigger();
      await t.loop.nextPass();
    }
    expect((await t.engine.inspectContainer(c!.id)).status).toBe('exited');
    await t.loop.submit({ kind: 'start', appUuid: 'a1' }, { force: false });
    expect((await t.engine.inspectContainer(c!.id)).status).toBe('running');
    expect(t.heldStopped.view.has(c!.id)).toBe(false);
  });

  it('an API action waits on a user lock, then fails with LockedError and changes nothing', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const [c] = await t.running('rel1');
    await fs.writeFile(userLockPath(t.layout), '');
    const started = Date.now();
    const err = await t.loop
      .submit({ kind: 'stop', appUuid: 'a1' }, { force: false, lockTimeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(err).toBeInstanceOf(LockedError);
    expect((err as LockedError).paths).toEqual(['/tmp/balena/updates.lock']);
    expect((await t.engine.inspectContainer(c!.id)).status).toBe('running');
    expect(t.heldStopped.view.has(c!.id)).toBe(false);
    expect(t.interrupted).toEqual([]);
    // With force the same action goes past the lock (and removes it).
    await t.loop.submit({ kind: 'stop', appUuid: 'a1' }, { force: true });
    expect((await t.engine.inspectContainer(c!.id)).status).toBe('exited');
    expect(await pathExists(userLockPath(t.layout))).toBe(false);
  });

  it('an API purge kills, wipes /data (moved out of reach) and brings the app back', async () => {
    const t = await setup();
    cleanup = async () => t.loop.stop();
    t.loop.setTarget(rel1);
    await waitFor('release 1 running', async () => (await t.running('rel1')).length === 1, 5_000);
    const dataDir = path.join(t.layout.dataDir, 'apps', '1', 'data');
    await fs.mkdir(path.join(dataDir, 'tree'), { recursive: true });
    await fs.writeFile(path.join(dataDir, 'tree', 'file'), 'x');
    const [before] = await t.running('rel1');
    await t.loop.submit({ kind: 'purge', appUuid: 'a1' }, { force: false });
    expect(await fs.readdir(dataDir)).toEqual([]);
    const [after] = await t.running('rel1');
    expect(after!.id).not.toBe(before!.id);
  });
});
