import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import {
  appContainers,
  containerExists,
  envRecord,
  releaseLockInside,
  shellIn,
  takeLockInside,
  waitReleaseIn,
  waitReleaseRunning,
} from '../../helpers/containers.js';
import { removeLocalImage } from '../../helpers/docker.js';
import { DEMO_1, DEMO_2, freshImage } from '../../helpers/images.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** The single (main) container of the app, once it runs and is from `releaseUuid`. */
const onlyRunning = async (t: TestAgent, appUuid: string, releaseUuid: string) =>
  (await waitReleaseRunning(t, appUuid, releaseUuid)).main!;

describe('reconcile (real engine): releases, config changes, running flag, container contract', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('moves to a new release: the old container is removed, the new one runs, /data survives', async () => {
    const appUuid = unique('app');
    const appId = 8101;
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r1, releaseId: 1, services: { main: { image: DEMO_1 } } }),
    );
    const first = await onlyRunning(t, appUuid, r1);
    // Written inside the container; must land in the host dir the contract names, and survive.
    await shellIn(first.id, 'echo written-by-release-1 > /data/note');
    const hostNote = path.join(t.config.dataDir, 'apps', String(appId), 'data', 'note');
    expect(await fs.readFile(hostNote, 'utf8')).toBe('written-by-release-1\n');

    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r2, releaseId: 2, services: { main: { image: DEMO_2 } } }),
    );
    const second = await onlyRunning(t, appUuid, r2);
    expect(second.id).not.toBe(first.id);
    expect(second.name).toBe(`main_201_2_${r2}`);
    // Removed, not merely stopped: the engine no longer knows the old container at all.
    expect(await containerExists(first.id)).toBe(false);
    expect(await shellIn(second.id, 'cat /data/note; cat /etc/bosun-release')).toMatch(
      /^written-by-release-1\n.*2/,
    );
  });

  it('removes the image it pulled for the old release once the new one runs; keeps images it found', async () => {
    // The old image gets deleted, so it must be this test's own, never a shared sample image.
    const [image1, image2] = await Promise.all([freshImage('cleanup-old'), freshImage('cleanup-new')]);
    const appUuid = unique('app');
    const appId = 8105;
    const services = (image: string) => ({ main: { image }, side: { image: DEMO_1 } });
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r1, releaseId: 1, services: services(image1) }),
    );
    await waitReleaseRunning(t, appUuid, r1, ['main', 'side']);
    expect(await t.engine.hasImage(image1)).toBe(true);

    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r2, releaseId: 2, services: services(image2) }),
    );
    await waitReleaseRunning(t, appUuid, r2, ['main', 'side']);
    await waitFor('the old release image removed', async () => !(await t.engine.hasImage(image1)));
    expect(await t.engine.hasImage(image2)).toBe(true);
    // DEMO_1 was on the engine before the agent needed it: not the agent's to delete.
    expect(await t.engine.hasImage(DEMO_1)).toBe(true);
    await removeLocalImage(image2);
  });

  it('recreates the container on a config-only change (environment), same release', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    const target = (mode: string) =>
      deviceObject({
        appUuid,
        appId: 8102,
        releaseUuid: r1,
        releaseId: 1,
        services: { main: { image: DEMO_1, environment: { MODE: mode } } },
      });
    await t.setTarget(target('a'));
    const first = await onlyRunning(t, appUuid, r1);
    await t.setTarget(target('b'));
    const second = await waitFor('container recreated with MODE=b', async () => {
      const cs = await appContainers(t, appUuid);
      return cs.length === 1 && cs[0]!.id !== first.id && cs[0]!.status === 'running' ? cs[0] : undefined;
    });
    expect(second.releaseUuid).toBe(r1);
    expect(second.name).toBe(first.name);
    expect(second.configHash).not.toBe(first.configHash);
    expect(await shellIn(second.id, 'echo $MODE')).toBe('b\n');
    expect(await containerExists(first.id)).toBe(false);
  });

  it('running: false creates the container and leaves it unstarted', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 8103,
        releaseUuid: r1,
        releaseId: 1,
        services: { main: { image: DEMO_1, running: false } },
      }),
    );
    const created = (await waitReleaseIn(t, appUuid, r1, 'created')).main!;
    // Several more passes must not start it.
    for (let i = 0; i < 3; i += 1) {
      t.agent.loop.trigger();
      await t.agent.loop.nextPass();
    }
    const again = await t.engine.inspectContainer(created.id);
    expect(again.status).toBe('created');
    expect(again.startedAt).toBeUndefined();
    expect(t.agent.loop.status.converged).toBe(true);
  });

  it('gives the container the contract env (BALENA_*/RESIN_*), labels and mounts', async () => {
    const appUuid = unique('app');
    const appId = 8104;
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId,
        releaseUuid: r1,
        releaseId: 3,
        services: {
          main: {
            image: DEMO_1,
            environment: { MODE: 'prod' },
            labels: { 'io.balena.features.supervisor-api': '1', 'com.example.team': 'sensors' },
            composition: { network_mode: 'host' },
          },
        },
      }),
    );
    const c = await onlyRunning(t, appUuid, r1);
    const raw = await docker.getContainer(c.id).inspect();
    const env = envRecord(raw.Config.Env ?? []);
    const port = String(t.agent.apiPort);
    expect(port).not.toBe('0');
    const expected: Record<string, string> = {
      '': '1',
      APP_ID: String(appId),
      APP_UUID: appUuid,
      APP_NAME: `app-${appId}`,
      SERVICE_NAME: 'main',
      DEVICE_UUID: t.uuid,
      SUPERVISOR_ADDRESS: `http://127.0.0.1:${port}`,
      SUPERVISOR_HOST: '127.0.0.1',
      SUPERVISOR_PORT: port,
    };
    for (const [name, value] of Object.entries(expected)) {
      expect([name, env[name ? `BALENA_${name}` : 'BALENA']]).toEqual([name, value]);
      expect([name, env[name ? `RESIN_${name}` : 'RESIN']]).toEqual([name, value]);
    }
    expect(env.BALENA_APP_LOCK_PATH).toBe('/tmp/balena/updates.lock');
    expect(env.RESIN_APP_LOCK_PATH).toBeDefined();
    expect(env.MODE).toBe('prod');
    expect(env.BALENA_SUPERVISOR_API_KEY).toMatch(/^\S{16,}$/);
    expect(env.RESIN_SUPERVISOR_API_KEY).toBe(env.BALENA_SUPERVISOR_API_KEY);
    expect(env.BALENA_SUPERVISOR_API_KEY).not.toBe(t.agent.identity.apiKey);

    // The address in the env really reaches the agent's API from inside the container (host network).
    const reply = await shellIn(c.id, 'wget -q -O - "$BALENA_SUPERVISOR_ADDRESS/ping"');
    expect(reply).toBe('OK');

    expect(raw.Config.Labels).toMatchObject({
      'io.balena.supervised': 'true',
      'io.balena.app-id': String(appId),
      'io.balena.app-uuid': appUuid,
      'io.balena.service-name': 'main',
      'io.balena.service-id': '1',
      'io.bosun.device-uuid': t.uuid,
      'io.balena.features.supervisor-api': '1',
      'com.example.team': 'sensors',
    });
    expect(raw.Name).toBe(`/main_301_3_${r1}`);

    const lockDir = path.join(t.config.lockDir, String(appId), 'main');
    const mounts = Object.fromEntries(raw.Mounts.map((m) => [m.Destination, m.Source]));
    expect(mounts).toEqual({
      '/data': path.join(t.config.dataDir, 'apps', String(appId), 'data'),
      '/tmp/balena': lockDir,
      '/tmp/resin': lockDir,
    });
    // The lock dir is shared: a lock taken in the container shows on the host at the contract path.
    await takeLockInside(c.id);
    await expect(fs.lstat(path.join(lockDir, 'updates.lock'))).resolves.toBeDefined();
    await releaseLockInside(c.id);
  });
});
