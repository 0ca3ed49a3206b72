import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { DockerEngine } from '../../src/engine/docker.js';
import { DOCKER_HOST, REGISTRY } from '../helpers/docker.js';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../helpers/agent.js';
import { RecordingEngine } from '../helpers/recording-engine.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const DEMO1 = `${REGISTRY}/bosun/demo:1`;

/** Lock files (the agent's or anyone's) under a dir, recursively. */
async function lockFilesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return entries.filter((e) => /(^|\/)(resin-)?updates\.lock$/.test(e));
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    },
  );
}

describe('reconcile (real engine): removing services and apps', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  beforeAll(async () => {
    engine = new RecordingEngine(new DockerEngine({ dockerHost: DOCKER_HOST }));
    t = await startTestAgent({ engine });
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
        services: Object.fromEntries(services.map((s) => [s, { image: DEMO1 }])),
      });
    await t.setTarget(target(['front', 'back']));
    const both = await waitFor('two services running', async () => {
      const cs = await t.containers();
      return cs.length === 2 && cs.every((c) => c.status === 'running') ? cs : undefined;
    });
    const front = both.find((c) => c.serviceName === 'front')!;
    const back = both.find((c) => c.serviceName === 'back')!;

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
          main: { image: DEMO1, composition: { volumes: ['store:/store'] } },
          side: { image: DEMO1 },
        },
      }),
    );
    await waitFor('app running', async () => {
      const cs = await t.containers();
      return cs.length === 2 && cs.every((c) => c.status === 'running');
    });
    const volume = `${appId}_store`;
    expect((await t.engine.listVolumes(t.uuid)).map((v) => v.name)).toEqual([volume]);
    const appDir = path.join(t.config.dataDir, 'apps', String(appId));
    await fs.writeFile(path.join(appDir, 'data', 'keep-me'), 'x');

    const mark = engine.calls.length;
    await t.setTarget({ name: 'test-device', config: {}, apps: {} });
    await waitFor('containers, volume and /data gone', async () => {
      const [cs, vs] = await Promise.all([t.containers(), t.engine.listVolumes(t.uuid)]);
      return cs.length === 0 && vs.length === 0 && !(await exists(appDir));
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
    expect(t.agent.locks.holder(appUuid)).toBeUndefined();
    expect(await lockFilesUnder(t.config.lockDir)).toEqual([]);
  });
});
