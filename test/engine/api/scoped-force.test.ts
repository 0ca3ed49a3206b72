/**
 * Attack review #6 against a real agent: with app A's own key (BALENA_SUPERVISOR_API_KEY), a
 * force must not reach app B. `POST /v1/update {"force":true}` updates A past its lock while B
 * keeps its lock and waits; a forced reboot or shutdown is refused (403) and runs nothing; a 423
 * and /metrics answered to A's key do not name B.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OTHER_APP_LOCKED_MESSAGE } from '../../../src/api/error-reply.js';
import { deviceObject, rawApi, sleep, startTestAgent, unique, type TestAgent } from '../../helpers/agent.js';
import { appContainers, containerEnv, takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { appState, waitUpdateStatus } from '../../helpers/local-api.js';
import { hostLockPath, pathExists } from '../../helpers/locks.js';

/** Long enough for several fallback polls (500 ms): a lock that holds, holds past them. */
const HELD_MS = 1_500;
const API_LABELS = { 'io.balena.features.supervisor-api': '1' };

describe('local API (real agent): an app key forces its own app only', () => {
  let t: TestAgent;
  let commandLog: string;
  const appA = { appUuid: unique('app'), appId: 9151 };
  const appB = { appUuid: unique('app'), appId: 9152 };
  let keyA: string;

  /** Both apps at `releaseId`, as one device target. */
  const bothAt = (releaseId: number, image: string) => {
    const releaseA = unique('rel');
    const releaseB = unique('rel');
    const b = deviceObject({ ...appB, releaseUuid: releaseB, releaseId, services: { main: { image } } });
    const target = deviceObject({
      ...appA,
      releaseUuid: releaseA,
      releaseId,
      services: { main: { image, labels: API_LABELS } },
      extraApps: b.apps as Record<string, unknown>,
    });
    return { releaseA, releaseB, target };
  };
  const asA = () => ({ headers: { Authorization: `Bearer ${keyA}` } });
  const commands = async (): Promise<string> =>
    fs.readFile(commandLog, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });

  beforeAll(async () => {
    commandLog = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-scoped-')), 'calls.log');
    t = await startTestAgent({
      config: {
        rebootCommand: `echo reboot >> '${commandLog}'`,
        shutdownCommand: `echo shutdown >> '${commandLog}'`,
      },
    });
    const first = bothAt(1, LOCKER_1);
    await t.setTarget(first.target);
    const runningA = await waitReleaseRunning(t, appA.appUuid, first.releaseA);
    const runningB = await waitReleaseRunning(t, appB.appUuid, first.releaseB);
    keyA = (await containerEnv(runningA.main!.id)).BALENA_SUPERVISOR_API_KEY!;
    expect(keyA).toBeTruthy();
    await takeLockInside(runningA.main!.id);
    await takeLockInside(runningB.main!.id);
  });
  afterAll(async () => {
    await t?.cleanup();
    if (commandLog) await fs.rm(path.dirname(commandLog), { recursive: true, force: true });
  });

  it("POST /v1/update {force} with A's key updates A past its lock; B keeps its lock and waits", async () => {
    const lockB = hostLockPath(t.config, appB.appId, 'main', 'balena');
    const oldB = (await appContainers(t, appB.appUuid))[0]!;
    const second = bothAt(2, LOCKER_2);
    await t.setTarget(second.target);
    await waitUpdateStatus(t, appA.appUuid, 'locked');
    await waitUpdateStatus(t, appB.appUuid, 'locked');

    const reply = await rawApi(t.agent.apiPort, 'POST', '/v1/update', { ...asA(), body: { force: true } });
    expect(reply.status).toBe(204);
    await waitReleaseRunning(t, appA.appUuid, second.releaseA);

    await sleep(HELD_MS);
    expect(await pathExists(lockB)).toBe(true);
    expect((await appState(t, appB.appUuid))?.updateStatus).toBe('locked');
    const nowB = await appContainers(t, appB.appUuid);
    expect(nowB.map((c) => [c.id, c.status])).toEqual([[oldB.id, 'running']]);
  });

  it("refuses A's key a forced reboot or shutdown with 403, and runs nothing", async () => {
    for (const route of ['/v1/reboot', '/v1/shutdown']) {
      const reply = await rawApi(t.agent.apiPort, 'POST', route, { ...asA(), body: { force: true } });
      expect([route, reply.status]).toEqual([route, 403]);
      expect(reply.body).toEqual({
        status: 'failed',
        message: expect.stringContaining('device-wide API key'),
      });
    }
    expect(await commands()).toBe('');
    expect(await pathExists(hostLockPath(t.config, appB.appId, 'main', 'balena'))).toBe(true);
  });

  it("answers A's unforced reboot, blocked by B's lock, with a 423 that does not name B", async () => {
    const reply = await rawApi(t.agent.apiPort, 'POST', '/v1/reboot', { ...asA(), body: {} });
    expect(reply.status).toBe(423);
    expect(reply.body).toEqual({ status: 'failed', message: OTHER_APP_LOCKED_MESSAGE });
    expect(reply.text).not.toContain(String(appB.appId));
    expect(await commands()).toBe('');
  }, 30_000);

  it("shows A's key only A's series in /metrics", async () => {
    const global = await t.api('GET', '/metrics');
    expect(global.text).toContain(appB.appUuid);
    const reply = await rawApi(t.agent.apiPort, 'GET', '/metrics', asA());
    expect(reply.status).toBe(200);
    expect(reply.text).toContain(`app="${appA.appUuid}"`);
    expect(reply.text).not.toContain(appB.appUuid);
  });
});
