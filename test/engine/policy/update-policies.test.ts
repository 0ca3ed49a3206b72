/**
 * Contract section 10 on the real engine: probation and automatic rollback, lock deadlines,
 * update windows (with a clock the test moves).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { deviceObject, sleep, startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { nextRelease, startApp } from '../../helpers/apps.js';
import { appContainers, takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { freshImage, LOCKER_2 } from '../../helpers/images.js';
import { hostLockPath, pathExists } from '../../helpers/locks.js';
import { listedLocks } from '../../helpers/local-api.js';

let t: TestAgent | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

/** The app's release as the agent reports it (the target's release). */
async function reported(agent: TestAgent, appUuid: string) {
  const view = await agent.agent.view();
  return view.apps.find((a) => a.appUuid === appUuid);
}

/** Waits until the app's current release has passed probation. */
async function committed(agent: TestAgent, appUuid: string): Promise<void> {
  await waitFor(
    'probation passed',
    async () => {
      const status = agent.agent.loop.status.apps[appUuid];
      return status?.phase === 'done' && status.probationEndsAt === undefined;
    },
    15_000,
  );
}

describe('update policies (real engine): probation and automatic rollback', () => {
  it('a release whose service exits 1 is rolled back to the previous release within probation', async () => {
    t = await startTestAgent({ config: { updateProbation: '1500ms' } });
    const app = await startApp(t, 8701);
    await committed(t, app.appUuid);
    const bad = nextRelease(app, 2, {
      main: { image: LOCKER_2, composition: { command: ['sh', '-c', 'sleep 0.3; exit 1'], restart: 'no' } },
    });
    await t.setTarget(bad.target);
    await waitReleaseRunning(t, app.appUuid, bad.releaseUuid, ['main'], 10_000).catch(() => undefined);
    await waitFor(
      'rolled back',
      async () => (await reported(t!, app.appUuid))?.updateStatus === 'rolled back',
      20_000,
    );
    const back = await waitFor(
      'back on release 1',
      async () => {
        const cs = await appContainers(t!, app.appUuid);
        return cs.length === 1 && cs[0]!.releaseUuid === app.releaseUuid && cs[0]!.status === 'running'
          ? cs[0]
          : undefined;
      },
      20_000,
    );
    expect(back!.id).not.toBe(app.running.main!.id); // new containers from release 1's image
    expect(await reported(t, app.appUuid)).toMatchObject({
      targetCommit: bad.releaseUuid,
      commit: app.releaseUuid,
      updateStatus: 'rolled back',
      rollbackReason: 'service main exited with code 1',
    });
    // The failed release is not applied again while the target names it.
    for (let i = 0; i < 3; i += 1) {
      t.agent.loop.trigger();
      await t.agent.loop.nextPass();
    }
    expect((await appContainers(t, app.appUuid)).map((c) => c.id)).toEqual([back!.id]);
  });

  it('a release whose healthcheck fails is rolled back', async () => {
    t = await startTestAgent({ config: { updateProbation: '20s' } });
    const app = await startApp(t, 8702);
    // Release 1 is still on probation: a rollback goes to it all the same.
    const unhealthy = nextRelease(app, 2, {
      main: {
        image: LOCKER_2,
        composition: { healthcheck: { test: ['CMD', 'false'], interval: '500ms', retries: 1 } },
      },
    });
    await t.setTarget(unhealthy.target);
    await waitFor(
      'rolled back',
      async () => (await reported(t!, app.appUuid))?.updateStatus === 'rolled back',
      20_000,
    );
    await waitReleaseRunning(t, app.appUuid, app.releaseUuid, ['main'], 20_000);
    expect(await reported(t, app.appUuid)).toMatchObject({
      updateStatus: 'rolled back',
      rollbackReason: 'service main is unhealthy',
    });
  });

  it('a good release is committed, and only then are the old images removed', async () => {
    t = await startTestAgent({ config: { updateProbation: '3s' } });
    const [image1, image2] = [await freshImage('probation-old'), await freshImage('probation-new')];
    const app = await startApp(t, 8703, { main: { image: image1 } });
    await committed(t, app.appUuid);
    const good = nextRelease(app, 2, { main: { image: image2 } });
    await t.setTarget(good.target);
    await waitReleaseRunning(t, app.appUuid, good.releaseUuid, ['main']);
    await waitFor('on probation', async () => (await reported(t!, app.appUuid))?.probationEndsAt);
    await sleep(1000);
    expect(await t.engine.hasImage(image1)).toBe(true); // a rollback may still need it
    await committed(t, app.appUuid);
    await waitFor('old image removed', async () => !(await t!.engine.hasImage(image1)), 10_000);
    expect(await t.engine.hasImage(image2)).toBe(true);
    expect((await reported(t, app.appUuid))?.updateStatus).toBe('done');
  });
});

describe('update policies (real engine): lock deadline', () => {
  it('a lock past its deadline is overridden, and the user lock removed only then', async () => {
    t = await startTestAgent({ config: { updateLockDeadline: '2s', updateProbation: '0' } });
    const app = await startApp(t, 8704);
    await takeLockInside(app.running.main!.id);
    const lockFile = hostLockPath(t.config, 8704, 'main', 'balena');
    const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
    await t.setTarget(next.target);
    const since = Date.now();
    await waitFor(
      'locked, with a deadline',
      async () => (await reported(t!, app.appUuid))?.updateStatus === 'locked',
    );
    const [lock] = await listedLocks(t, app.appUuid);
    expect(lock).toMatchObject({ holder: 'app', path: '/tmp/balena/updates.lock' });
    const deadline = Date.parse((lock as unknown as { deadline: string }).deadline);
    expect(deadline - since).toBeGreaterThan(1000);
    expect(deadline - since).toBeLessThan(3000);
    // Before the deadline the user's lock stands, and so does the old release.
    await sleep(Math.max(0, deadline - Date.now() - 500));
    expect(await pathExists(lockFile)).toBe(true);
    expect((await appContainers(t, app.appUuid)).map((c) => c.releaseUuid)).toEqual([app.releaseUuid]);
    await waitReleaseRunning(t, app.appUuid, next.releaseUuid, ['main']);
    const forcedAt = Date.now();
    expect(forcedAt).toBeGreaterThanOrEqual(deadline);
    expect(forcedAt - deadline).toBeLessThan(5000); // a timer, not the next poll
    const metrics = await t.api('GET', '/metrics');
    expect(metrics.text).toMatch(/bosun_lock_overrides_total\{source="deadline"\} 1/);
  });
});

describe('update policies (real engine): update window', () => {
  it('an update outside its window waits with images downloaded and runs when the window opens', async () => {
    // The device's clock: 6 s before the next whole minute of a clock the test controls.
    const realStart = Date.now();
    const opensAt = Math.ceil((realStart + 60_000) / 60_000) * 60_000;
    const offset = opensAt - 6_000 - realStart;
    t = await startTestAgent({
      config: { updateProbation: '0' },
      agent: { loop: { now: () => Date.now() + offset } },
    });
    const image2 = await freshImage('window-new');
    const app = await startApp(t, 8705); // a first install does not wait
    const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
    const window = `${hhmm(opensAt)}-${hhmm(opensAt + 10 * 60_000)} UTC`;
    const releaseUuid = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid: app.appUuid,
        appId: 8705,
        releaseUuid,
        releaseId: 2,
        services: { main: { image: image2, labels: { 'io.bosun.update.window': window } } },
      }),
    );
    await waitFor('scheduled, downloaded', async () => {
      const view = await reported(t!, app.appUuid);
      return view?.updateStatus === 'scheduled' && (await t!.engine.hasImage(image2));
    });
    expect((await reported(t, app.appUuid))?.updateWindowOpensAt).toBe(new Date(opensAt).toISOString());
    expect((await appContainers(t, app.appUuid)).map((c) => c.releaseUuid)).toEqual([app.releaseUuid]);
    await waitReleaseRunning(t, app.appUuid, releaseUuid, ['main'], 15_000);
    const deviceNow = Date.now() + offset;
    expect(deviceNow).toBeGreaterThanOrEqual(opensAt);
    expect(deviceNow - opensAt).toBeLessThan(3000);
  });
});
