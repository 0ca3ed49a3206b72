import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestAgent, type TestAgent } from '../../helpers/agent.js';
import { startApp } from '../../helpers/apps.js';
import { appContainers, dockerExec, takeLockInside, waitReleaseRunning } from '../../helpers/containers.js';
import { DEMO_1 } from '../../helpers/images.js';
import { BALENA_LOCK } from '../../helpers/locks.js';

const V1_OK = { Data: 'OK', Error: null };

/** Purge, reboot and shutdown: the actions that wipe data or take the whole device down. */
describe('local API (real agent): purge, reboot, shutdown', () => {
  let t: TestAgent;
  let commandLog: string;
  let appIds = 9400;

  beforeAll(async () => {
    commandLog = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-api-host-')), 'calls.log');
    t = await startTestAgent({
      config: {
        rebootCommand: `echo reboot >> '${commandLog}'`,
        shutdownCommand: `echo shutdown >> '${commandLog}'`,
      },
    });
  });
  afterAll(async () => {
    await t?.cleanup();
    await fs.rm(path.dirname(commandLog), { recursive: true, force: true });
  });

  const calls = async (): Promise<string[]> => {
    const text = await fs.readFile(commandLog, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    return text.split('\n').filter(Boolean);
  };

  it('POST /v1/purge wipes /data and the app volumes, then brings the app back', async () => {
    const app = await startApp(
      t,
      (appIds += 1),
      { main: { image: DEMO_1, composition: { volumes: ['vol:/vol'] } } },
      { vol: {} },
    );
    const id = app.running.main!.id;
    const hostData = path.join(t.config.dataDir, 'apps', String(app.appId), 'data');
    await fs.writeFile(path.join(hostData, 'from-host'), 'x');
    // Enough files that the wipe takes a while: the loop, woken by the deletions, must not bring
    // the app back on a half-wiped /data or a volume being removed.
    await fs.mkdir(path.join(hostData, 'many'));
    await Promise.all(
      Array.from({ length: 3000 }, (_, i) => fs.writeFile(path.join(hostData, 'many', `f${i}`), 'x')),
    );
    await dockerExec(id, ['sh', '-c', 'echo y > /data/from-inside && echo v > /vol/in-volume']);
    // demo counts its boots in /data/boots; a restart without the wipe would make it 2
    expect((await dockerExec(id, ['cat', '/data/boots'])).trim()).toBe('1');

    const reply = await t.api('POST', '/v1/purge', { appId: app.appId, force: true });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(V1_OK);
    const back = await waitReleaseRunning(t, app.appUuid, app.releaseUuid);
    expect(back.main!.id).not.toBe(id);
    const left = await fs.readdir(hostData);
    expect(left).not.toContain('from-host');
    expect(left).not.toContain('from-inside');
    expect(left).not.toContain('many');
    expect((await dockerExec(back.main!.id, ['cat', '/data/boots'])).trim()).toBe('1');
    expect((await dockerExec(back.main!.id, ['ls', '-A', '/vol'])).trim()).toBe('');
    // The volume was made again by the agent (labelled as this device's), not by the engine for
    // a container created in the middle of the purge.
    const volumes = await t.engine.listVolumes(t.uuid);
    expect(volumes.map((v) => v.name)).toEqual([`bosun_${t.uuid}_${app.appId}_vol`]);
  });

  it('POST /v1/reboot and /v1/shutdown run the configured commands', async () => {
    const before = (await calls()).length;
    const reboot = await t.api('POST', '/v1/reboot', {});
    expect(reboot.status).toBe(202);
    expect(reboot.body).toEqual(V1_OK);
    const shutdown = await t.api('POST', '/v1/shutdown');
    expect(shutdown.status).toBe(202);
    expect(shutdown.body).toEqual(V1_OK);
    expect((await calls()).slice(before)).toEqual(['reboot', 'shutdown']);
  });

  it('purge, reboot, shutdown, stop and restart-service answer 423 while an app holds its lock; force goes ahead', async () => {
    const app = await startApp(t, (appIds += 1), { main: { image: DEMO_1 } });
    const id = app.running.main!.id;
    const hostFile = path.join(t.config.dataDir, 'apps', String(app.appId), 'data', 'keep-me');
    await fs.writeFile(hostFile, 'x');
    await takeLockInside(id);
    const before = (await calls()).length;

    // All wait on the same lock at once, so the test pays the 10 s wait once.
    const replies = await Promise.all([
      t.api('POST', '/v1/purge', { appId: app.appId }),
      t.api('POST', '/v1/reboot', {}),
      t.api('POST', '/v1/shutdown', { force: false }),
      t.api('POST', `/v1/apps/${app.appId}/stop`, {}),
      t.api('POST', `/v2/applications/${app.appId}/stop-service`, { serviceName: 'main' }),
      t.api('POST', `/v2/applications/${app.appId}/restart-service`, { serviceName: 'main' }),
      t.api('POST', `/v2/applications/${app.appId}/purge`, {}),
    ]);
    for (const reply of replies) {
      expect(reply.status).toBe(423);
      expect(reply.body).toEqual({ status: 'failed', message: expect.stringContaining(BALENA_LOCK) });
    }
    expect((await calls()).slice(before)).toEqual([]);
    await expect(fs.readFile(hostFile, 'utf8')).resolves.toBe('x');
    expect((await appContainers(t, app.appUuid)).map((c) => [c.id, c.status])).toEqual([[id, 'running']]);
    // The user's lock is still the user's: nothing removed it without an override.
    expect(await dockerExec(id, ['/bin/lock', 'status'])).toContain('held');

    const forcedReboot = await t.api('POST', '/v1/reboot', { force: true });
    expect(forcedReboot.status).toBe(202);
    expect((await calls()).slice(before)).toEqual(['reboot']);

    await takeLockInside(id); // the forced reboot removed the user's lock; the app takes it again
    const forcedShutdown = await t.api('POST', '/v1/shutdown', { force: true });
    expect(forcedShutdown.status).toBe(202);
    expect((await calls()).slice(before)).toEqual(['reboot', 'shutdown']);
    // Under the override the agent removed the user's lock and released its own.
    expect(await dockerExec(id, ['/bin/lock', 'status'])).toContain('free');
  }, 40_000);
});
