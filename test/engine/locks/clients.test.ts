import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RecordingEngine } from '../../helpers/recording-engine.js';
import {
  deviceObject,
  sleep,
  startRecordingAgent,
  unique,
  waitFor,
  type TestAgent,
} from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { listedLocks, waitUpdateStatus } from '../../helpers/local-api.js';
import { hostLockPath } from '../../helpers/locks.js';
import { AlreadyRunningError, lockDataDir, silentLogger, startAgent } from '../../helpers/shipped-agent.js';

/** The npm `lockfile` package, the client balena's own lock example uses (it ships no types). */
interface LockfileClient {
  lock(path: string, cb: (err: NodeJS.ErrnoException | null) => void): void;
  lockSync(path: string): void;
  unlockSync(path: string): void;
}
const lockfile = createRequire(import.meta.url)('lockfile') as LockfileClient;

function lockfileLock(file: string): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => lockfile.lock(file, (err) => resolve(err ?? null)));
}

/** A service whose process ignores TERM: a stop takes its whole grace period, with the agent holding the lock. */
const SLOW_STOP = {
  command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"],
  stop_grace_period: '5s',
};

describe('locks (real engine): other lock clients and instances', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  beforeAll(async () => {
    ({ t, engine } = await startRecordingAgent());
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it("the npm lockfile package's lock on the host path is respected", async () => {
    const appUuid = unique('app');
    const appId = 8301;
    const app = (releaseUuid: string, releaseId: number, image: string) =>
      deviceObject({ appUuid, appId, releaseUuid, releaseId, services: { main: { image } } });
    const r1 = unique('rel');
    await t.setTarget(app(r1, 1, LOCKER_1));
    const old = (await waitReleaseRunning(t, appUuid, r1, ['main'])).main!;
    const file = hostLockPath(t.config, appId, 'main', 'balena');
    lockfile.lockSync(file);

    const r2 = unique('rel');
    await t.setTarget(app(r2, 2, LOCKER_2));
    await waitUpdateStatus(t, appUuid, 'locked');
    await sleep(800);
    expect(engine.of('stop').filter((c) => c.arg === old.id)).toEqual([]);
    expect(await listedLocks(t, appUuid)).toEqual([
      expect.objectContaining({ hostPath: file, holder: 'app' }),
    ]);

    lockfile.unlockSync(file);
    await waitReleaseRunning(t, appUuid, r2, ['main']);
  });

  it("lockfile's lock() fails with EEXIST while the agent holds the lock for a slow stop", async () => {
    const appUuid = unique('app');
    const appId = 8302;
    const app = (releaseUuid: string, releaseId: number, image: string) =>
      deviceObject({
        appUuid,
        appId,
        releaseUuid,
        releaseId,
        services: { main: { image, composition: SLOW_STOP } },
      });
    const r1 = unique('rel');
    await t.setTarget(app(r1, 1, LOCKER_1));
    const old = (await waitReleaseRunning(t, appUuid, r1, ['main'])).main!;
    const file = hostLockPath(t.config, appId, 'main', 'balena');

    const r2 = unique('rel');
    await t.setTarget(app(r2, 2, LOCKER_2));
    const stop = await waitFor(
      'the slow stop to begin',
      () => engine.of('stop').find((c) => c.arg === old.id),
      15_000,
      20,
    );
    const err = await lockfileLock(file);
    expect(err?.code).toBe('EEXIST');
    expect(() => lockfile.lockSync(file)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    // The stop is still in its grace period: the agent's hold covers it.
    expect(engine.of('stop', 'end').find((c) => c.arg === old.id)).toBeUndefined();
    expect((await listedLocks(t, appUuid)).filter((l) => l.holder === 'agent').length).toBe(3);

    await waitReleaseRunning(t, appUuid, r2, ['main'], 20_000);
    const stopEnd = engine.of('stop', 'end').find((c) => c.arg === old.id)!;
    expect(stopEnd.at - stop.at).toBeGreaterThanOrEqual(4_000);
    // Once the agent is done, the same client takes the lock at once.
    await waitFor(
      'agent locks released',
      async () => (await listedLocks(t, appUuid)).length === 0,
      2_000,
      20,
    );
    expect(await lockfileLock(file)).toBeNull();
    lockfile.unlockSync(file);
  });

  it('a second agent on the same data dir fails with AlreadyRunningError', async () => {
    // Stopped at once if it wrongly starts, so a failure here cannot hang the run.
    const outcome = await startAgent(t.config, { engine: t.engine, log: silentLogger() }).then(
      async (agent) => {
        await agent.stop();
        return agent;
      },
      (err: unknown) => err,
    );
    expect(outcome).toBeInstanceOf(AlreadyRunningError);
    expect((outcome as InstanceType<typeof AlreadyRunningError>).code).toBe('EALREADY_RUNNING');
    expect((outcome as Error).message).toBe(
      `another bosun agent (pid ${process.pid}) is already running with data dir ${t.config.dataDir}`,
    );
    // The first agent is unharmed: its API still answers.
    expect((await t.api('GET', '/ping')).status).toBe(200);
  });
});

describe('agent/instance-lock: whose data dir lock may be taken over', () => {
  /** A data dir whose lock looks freshly held by the process named in `pidFile`. */
  async function heldDataDir(pidFile: string): Promise<string> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-instance-'));
    await fs.mkdir(path.join(dir, 'agent.lock'));
    await fs.writeFile(path.join(dir, 'agent.pid'), pidFile);
    return dir;
  }
  const thisProcess = `${process.pid} ${Math.round(performance.timeOrigin)}`;
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid;

  it.each([
    ['this very process', thisProcess],
    ['a live process', `${process.ppid}`],
    ['unnamed (its pid file not written yet)', ''],
  ])('refuses when the holder is %s', async (_name, pidFile) => {
    const dir = await heldDataDir(pidFile);
    await expect(lockDataDir(dir, silentLogger())).rejects.toThrow(AlreadyRunningError);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a dead process', `${deadPid} 1`],
    ['an earlier process that had this pid', `${process.pid} 1`],
    ['an earlier process that had this pid (old pid-only file)', `${process.pid}`],
  ])('takes over from %s', async (_name, pidFile) => {
    const dir = await heldDataDir(pidFile);
    const release = await lockDataDir(dir, silentLogger());
    expect(await fs.readFile(path.join(dir, 'agent.pid'), 'utf8')).toBe(thisProcess);
    await release();
    await fs.rm(dir, { recursive: true, force: true });
  });
});
