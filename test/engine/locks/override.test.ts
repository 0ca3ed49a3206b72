import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  deviceObject,
  sleep,
  startTestAgent,
  unique,
  waitFor,
  type ServiceDef,
  type TestAgent,
} from '../../helpers/agent.js';
import { devices } from '../../helpers/apps.js';
import { appContainers, takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { listedLocks, waitUpdateStatus } from '../../helpers/local-api.js';
import { hostLockPath, pathExists } from '../../helpers/locks.js';

/** One locker app whose releases alternate between two images, its lock taken from inside. */
class LockedApp {
  readonly appUuid = unique('app');
  private releaseId = 0;
  releaseUuid = '';

  constructor(
    private readonly t: TestAgent,
    readonly appId: number,
  ) {}

  /** The app as a v3 device object for the next release (call next() first to move on). */
  device(options: { config?: Record<string, string>; environment?: Record<string, string> } = {}) {
    const service: ServiceDef = {
      image: this.releaseId % 2 ? LOCKER_1 : LOCKER_2,
      environment: options.environment,
    };
    return deviceObject({
      appUuid: this.appUuid,
      appId: this.appId,
      releaseUuid: this.releaseUuid,
      releaseId: this.releaseId,
      services: { main: service },
      config: options.config,
    });
  }

  next(): this {
    this.releaseId += 1;
    this.releaseUuid = unique('rel');
    return this;
  }

  async running(): Promise<string> {
    return (await waitReleaseRunning(this.t, this.appUuid, this.releaseUuid, ['main'])).main!.id;
  }

  /** The running container takes the lock; returns its host path. */
  async lock(): Promise<string> {
    const [container] = await appContainers(this.t, this.appUuid);
    await takeLockInside(container!.id);
    return hostLockPath(this.t.config, this.appId, 'main', 'balena');
  }

  /** Asserts the app waits on its lock: status locked, container untouched, for a while. */
  async expectLocked(oldId: string): Promise<void> {
    await waitUpdateStatus(this.t, this.appUuid, 'locked');
    await sleep(800);
    const cs = await appContainers(this.t, this.appUuid);
    expect(cs.map((c) => [c.id, c.status])).toEqual([[oldId, 'running']]);
  }
}

/** The update went through under the override and the user's lock file is gone. */
async function expectOverridden(app: LockedApp, lockFile: string): Promise<void> {
  await app.running();
  await waitFor('agent locks released', async () => !(await pathExists(lockFile)), 3_000, 20);
}

describe('locks (real engine): lock overrides', () => {
  let t: TestAgent;
  let appIds = 8200;
  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  async function runningApp(): Promise<{ app: LockedApp; id: string }> {
    const app = new LockedApp(t, (appIds += 1)).next();
    await t.setTarget(app.device());
    return { app, id: await app.running() };
  }

  it('POST /v1/update force releases an apply already waiting on the lock, once', async () => {
    const { app, id } = await runningApp();
    const lockFile = await app.lock();
    await t.setTarget(app.next().device());
    await app.expectLocked(id);

    const res = await t.api('POST', '/v1/update', { force: true });
    expect(res.status).toBe(204);
    await expectOverridden(app, lockFile);

    // The force was for that apply only: the next update waits on a new lock again.
    const second = await app.running();
    await app.lock();
    await t.setTarget(app.next().device());
    await app.expectLocked(second);
    expect(await listedLocks(t, app.appUuid)).toEqual([expect.objectContaining({ holder: 'app' })]);
  });

  it('cloud config vars override under each name; a false under another name does not cancel; off restores locking', async () => {
    const { app } = await runningApp();
    const overrides: Array<Record<string, string>> = [
      { SUPERVISOR_OVERRIDE_LOCK: '1' },
      { RESIN_OVERRIDE_LOCK: '1' },
      { BALENA_SUPERVISOR_OVERRIDE_LOCK: 'true' },
      { SUPERVISOR_OVERRIDE_LOCK: 'false', RESIN_OVERRIDE_LOCK: '1' },
      { BALENA_SUPERVISOR_OVERRIDE_LOCK: 'on', RESIN_SUPERVISOR_OVERRIDE_LOCK: '0' },
    ];
    for (const config of overrides) {
      const lockFile = await app.lock();
      await t.setTarget(app.next().device({ config }));
      await expectOverridden(app, lockFile);
    }
    // The same device config without the override: the very next update waits on a new lock.
    const id = await app.running();
    await app.lock();
    await t.setTarget(app.next().device());
    await app.expectLocked(id);
  });

  it('RESIN_OVERRIDE_LOCK in a service environment overrides that app only', async () => {
    const overridden = new LockedApp(t, (appIds += 1)).next();
    const other = new LockedApp(t, (appIds += 1)).next();
    await t.setTarget(devices([overridden.device(), other.device()]));
    await overridden.running();
    const otherId = await other.running();
    const lockFile = await overridden.lock();
    const otherLock = await other.lock();
    await t.setTarget(
      devices([
        overridden.next().device({ environment: { RESIN_OVERRIDE_LOCK: '1' } }),
        other.next().device(),
      ]),
    );
    await expectOverridden(overridden, lockFile);
    await other.expectLocked(otherId);
    expect(await pathExists(otherLock)).toBe(true);
  });

  it('BOSUN_OVERRIDE_LOCK on the device overrides every app', async () => {
    const device = await startTestAgent({ config: { overrideLock: true } });
    try {
      const app = new LockedApp(device, 8299).next();
      await device.setTarget(app.device());
      await app.running();
      const lockFile = await app.lock();
      await device.setTarget(app.next().device());
      await expectOverridden(app, lockFile);
    } finally {
      await device.cleanup();
    }
  });
});
