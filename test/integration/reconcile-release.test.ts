import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import type { ContainerInfo } from '../../src/engine/types.js';
import { REGISTRY } from '../helpers/docker.js';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../helpers/agent.js';

const run = promisify(execFile);
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const DEMO1 = `${REGISTRY}/bosun/demo:1`;
const DEMO2 = `${REGISTRY}/bosun/demo:2`;

/** Runs a shell command inside a container through the docker CLI (what a user would do). */
async function execIn(containerId: string, script: string): Promise<string> {
  const { stdout } = await run('/usr/bin/docker', ['exec', containerId, 'sh', '-c', script], {
    timeout: 10_000,
  });
  return stdout;
}

/** The single container of the app, once it is `status` and from `releaseUuid`. */
function onlyContainer(t: TestAgent, appUuid: string, releaseUuid: string, status: ContainerInfo['status']) {
  return waitFor(`${appUuid}: one ${status} container of ${releaseUuid}`, async () => {
    const cs = (await t.containers()).filter((c) => c.appUuid === appUuid);
    return cs.length === 1 && cs[0]!.releaseUuid === releaseUuid && cs[0]!.status === status
      ? cs[0]
      : undefined;
  });
}

async function containerExists(id: string): Promise<boolean> {
  try {
    await docker.getContainer(id).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

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
      deviceObject({ appUuid, appId, releaseUuid: r1, releaseId: 1, services: { main: { image: DEMO1 } } }),
    );
    const first = await onlyContainer(t, appUuid, r1, 'running');
    // Written inside the container; must land in the host dir the contract names, and survive.
    await execIn(first.id, 'echo written-by-release-1 > /data/note');
    const hostNote = path.join(t.config.dataDir, 'apps', String(appId), 'data', 'note');
    expect(await fs.readFile(hostNote, 'utf8')).toBe('written-by-release-1\n');

    const r2 = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId, releaseUuid: r2, releaseId: 2, services: { main: { image: DEMO2 } } }),
    );
    const second = await onlyContainer(t, appUuid, r2, 'running');
    expect(second.id).not.toBe(first.id);
    expect(second.name).toBe(`main_201_2_${r2}`);
    // Removed, not merely stopped: the engine no longer knows the old container at all.
    expect(await containerExists(first.id)).toBe(false);
    expect(await execIn(second.id, 'cat /data/note; cat /etc/bosun-release')).toMatch(
      /^written-by-release-1\n.*2/,
    );
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
        services: { main: { image: DEMO1, environment: { MODE: mode } } },
      });
    await t.setTarget(target('a'));
    const first = await onlyContainer(t, appUuid, r1, 'running');
    await t.setTarget(target('b'));
    const second = await waitFor('container recreated with MODE=b', async () => {
      const cs = (await t.containers()).filter((c) => c.appUuid === appUuid);
      return cs.length === 1 && cs[0]!.id !== first.id && cs[0]!.status === 'running' ? cs[0] : undefined;
    });
    expect(second.releaseUuid).toBe(r1);
    expect(second.name).toBe(first.name);
    expect(second.configHash).not.toBe(first.configHash);
    expect(await execIn(second.id, 'echo $MODE')).toBe('b\n');
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
        services: { main: { image: DEMO1, running: false } },
      }),
    );
    const created = await onlyContainer(t, appUuid, r1, 'created');
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
            image: DEMO1,
            environment: { MODE: 'prod' },
            labels: { 'io.balena.features.supervisor-api': '1', 'com.example.team': 'sensors' },
            composition: { network_mode: 'host' },
          },
        },
      }),
    );
    const c = await onlyContainer(t, appUuid, r1, 'running');
    const raw = await docker.getContainer(c.id).inspect();
    const env = Object.fromEntries(
      (raw.Config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
    );
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
    const reply = await execIn(c.id, 'wget -q -O - "$BALENA_SUPERVISOR_ADDRESS/ping"');
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
    await execIn(c.id, 'lock take /tmp/balena/updates.lock');
    await expect(fs.lstat(path.join(lockDir, 'updates.lock'))).resolves.toBeDefined();
    await execIn(c.id, 'lock release /tmp/balena/updates.lock');
  });
});
