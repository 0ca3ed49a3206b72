import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { deviceObject, startRecordingAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { DEMO_1 } from '../../helpers/images.js';
import { lockFilesUnder, pathExists } from '../../helpers/locks.js';
import type { RecordingEngine } from '../../helpers/recording-engine.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

describe('reconcile (real engine): removing services and apps', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  beforeAll(async () => {
    ({ t, engine } = await startRecordingAgent());
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('removes a service dropped from the target and keeps the others running', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    const target = (services: string[]) =>
      deviceObject({
        appUuid,
        appId: 8201,
        releaseUuid: r1,
        releaseId: 1,
        services: Object.fromEntries(services.map((s) => [s, { image: DEMO_1 }])),
      });
    await t.setTarget(target(['front', 'back']));
    const { front, back } = await waitReleaseRunning(t, appUuid, r1, ['front', 'back']);

    // deviceObject numbers services in order: keep front's service id and image id stable.
    await t.setTarget(target(['front']));
    await waitFor('back removed', async () => (await t.containers()).length === 1);
    const left = await t.containers();
    expect(left.map((c) => [c.id, c.serviceName, c.status])).toEqual([[front.id, 'front', 'running']]);
    await expect(docker.getContainer(back.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await waitFor('converged', () => t.agent.loop.status.converged);
    expect(await lockFilesUnder(t.config.lockDir)).toEqual([]);
  });

  it('removes an app: its containers first, then its volumes and its /data dir', async () => {
    const appUuid = unique('app');
    const appId = 8202;
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId,
        releaseUuid: r1,
        releaseId: 1,
        volumes: { store: {} },
        services: {
          main: { image: DEMO_1, composition: { volumes: ['store:/store'] } },
          side: { image: DEMO_1 },
        },
      }),
    );
    // The whole device, not just this app: the first test's app must be gone before the mark below.
    await waitFor('app running', async () => {
      const cs = await t.containers();
      return cs.length === 2 && cs.every((c) => c.status === 'running');
    });
    const volume = `bosun_${t.uuid}_${appId}_store`;
    expect((await t.engine.listVolumes(t.uuid)).map((v) => v.name)).toEqual([volume]);
    const appDir = path.join(t.config.dataDir, 'apps', String(appId));
    await fs.writeFile(path.join(appDir, 'data', 'keep-me'), 'x');

    const mark = engine.calls.length;
    await t.setTarget({ name: 'test-device', config: {}, apps: {} });
    await waitFor('containers, volume and /data gone', async () => {
      const [cs, vs] = await Promise.all([t.containers(), t.engine.listVolumes(t.uuid)]);
      return cs.length === 0 && vs.length === 0 && !(await pathExists(appDir));
    });
    await waitFor('converged', () => t.agent.loop.status.converged);

    const calls = engine.calls.slice(mark);
    const removedContainers = calls.filter((c) => c.op === 'remove' && c.phase === 'end');
    const volumeRemoval = calls.find((c) => c.op === 'removeVolume' && c.phase === 'start');
    expect(removedContainers).toHaveLength(2);
    expect(volumeRemoval?.arg).toBe(volume);
    // A volume in use cannot go; the order is containers, then volumes.
    expect(Math.max(...removedContainers.map((c) => calls.indexOf(c)))).toBeLessThan(
      calls.indexOf(volumeRemoval!),
    );
    await expect(docker.getVolume(volume).inspect()).rejects.toMatchObject({ statusCode: 404 });
    // The lock taken to kill the app's containers is released although the app is gone.
    expect(t.agent.locks.holds(appUuid)).toBe(false);
    expect(await lockFilesUnder(t.config.lockDir)).toEqual([]);
  });
});
