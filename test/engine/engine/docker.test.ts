import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { LABELS, type ContainerSpec, type PullProgress } from '../../../src/engine/types.js';
import {
  DOCKER_HOST,
  REGISTRY,
  buildImage,
  removeContainersOf,
  removeLocalImage,
  requireEngine,
  uniqueDeviceUuid,
} from '../../helpers/docker.js';
import {
  AbortedError,
  DockerEngine,
  EngineError,
  EngineUnavailableError,
  ImageInUseError,
  ImageNotFoundError,
  NameConflictError,
  NotFoundError,
  PullError,
} from '../../helpers/shipped-agent.js';

const DEVICE = uniqueDeviceUuid();
const OTHER_DEVICE = uniqueDeviceUuid();
const RUN = DEVICE.slice(0, 8);
/** Pulled, removed and pulled again by this file only; other test files use the sample images. */
const PULL_REF = `${REGISTRY}/bosun-engine-test/pull:1`;
const APP_REF = `${REGISTRY}/bosun-engine-test/app:1`;
/** Built locally, never pushed, so this file can remove it without touching anything shared. */
const LOCAL_ONLY_REF = `bosun-engine-test/local-only:${RUN}`;
const VOLUME = `bosun-engine-test-${RUN}-data`;

const engine = new DockerEngine({ dockerHost: DOCKER_HOST });
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

function labelsFor(deviceUuid: string): Record<string, string> {
  return {
    [LABELS.supervised]: 'true',
    [LABELS.appId]: '11',
    [LABELS.appUuid]: 'app-uuid-engine-test',
    [LABELS.serviceName]: 'main',
    [LABELS.serviceId]: '22',
    [LABELS.deviceUuid]: deviceUuid,
    [LABELS.releaseUuid]: 'release-uuid-engine-test',
    [LABELS.releaseId]: '33',
    [LABELS.imageId]: '44',
    [LABELS.configHash]: 'hash-1',
  };
}

function specNamed(suffix: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name: `bosun-engine-test-${RUN}-${suffix}`,
    image: APP_REF,
    labels: labelsFor(DEVICE),
    env: {},
    command: ['sleep', '3600'],
    restart: 'no',
    networkMode: 'none',
    mounts: [],
    init: true,
    stopTimeoutSec: 1,
    ...overrides,
  };
}

beforeAll(async () => {
  await requireEngine(engine);
  await buildImage(PULL_REF, `engine-test-pull-${RUN}`);
  await buildImage(APP_REF, 'engine-test-app');
}, 120_000);

afterAll(async () => {
  await removeContainersOf(DEVICE);
  await removeContainersOf(OTHER_DEVICE);
  for (const ref of [LOCAL_ONLY_REF, PULL_REF, APP_REF]) await removeLocalImage(ref);
});

describe('engine/docker pullImage', () => {
  it('pulls from the local registry, reporting per-layer progress up to 100%', async () => {
    await removeLocalImage(PULL_REF);
    expect(await engine.hasImage(PULL_REF)).toBe(false);

    const events: PullProgress[] = [];
    await engine.pullImage(PULL_REF, { onProgress: (progress) => events.push(progress) });

    expect(events.length).toBeGreaterThan(1);
    expect(events.every((event) => event.image === PULL_REF)).toBe(true);
    expect(events.some((event) => event.layersTotal >= 1 && event.layersDone >= 1)).toBe(true);
    expect(events.some((event) => event.percent < 100)).toBe(true);
    expect(events.at(-1)?.percent).toBe(100);
    expect(events.at(-1)?.bytesDone).toBe(events.at(-1)?.bytesTotal);
    expect(await engine.hasImage(PULL_REF)).toBe(true);
  });

  it('pulling an image that is already present still succeeds and ends at 100%', async () => {
    const events: PullProgress[] = [];
    await engine.pullImage(PULL_REF, { onProgress: (progress) => events.push(progress) });
    expect(events.at(-1)?.percent).toBe(100);
  });

  it('pulls by digest, as v3 targets often name images', async () => {
    const [digestRef] = (await docker.getImage(PULL_REF).inspect()).RepoDigests;
    expect(digestRef).toMatch(/@sha256:[0-9a-f]{64}$/);
    await engine.pullImage(digestRef as string);
    expect(await engine.hasImage(digestRef as string)).toBe(true);
  });

  it('a missing tag or repository is ImageNotFoundError (terminal)', async () => {
    const missingTag = engine.pullImage(`${REGISTRY}/bosun-engine-test/pull:no-such-tag`);
    await expect(missingTag).rejects.toBeInstanceOf(ImageNotFoundError);
    await expect(missingTag).rejects.toMatchObject({ code: 'EIMAGE_NOT_FOUND', transient: false });
    await expect(engine.pullImage(`${REGISTRY}/bosun-engine-test/no-such-repo:1`)).rejects.toBeInstanceOf(
      ImageNotFoundError,
    );
  });

  it('a registry that does not answer is a transient PullError', async () => {
    const pull = engine.pullImage('127.0.0.1:5999/bosun-engine-test/pull:1');
    await expect(pull).rejects.toBeInstanceOf(PullError);
    await expect(pull).rejects.toMatchObject({ code: 'EPULL', transient: true });
  });

  it('an already aborted signal rejects with AbortedError before contacting the engine', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(engine.pullImage(PULL_REF, { signal: controller.signal })).rejects.toBeInstanceOf(
      AbortedError,
    );
  });

  it('aborting during the pull rejects with AbortedError', async () => {
    await removeLocalImage(PULL_REF);
    const controller = new AbortController();
    const events: PullProgress[] = [];
    const pull = engine.pullImage(PULL_REF, {
      signal: controller.signal,
      onProgress: (progress) => {
        events.push(progress);
        controller.abort();
      },
    });
    await expect(pull).rejects.toBeInstanceOf(AbortedError);
    // Progress stops at the abort: no event after the one that aborted.
    expect(events).toHaveLength(1);
  });
});

describe('engine/docker containers', () => {
  it('runs the create/start/stop/kill/remove lifecycle, each step idempotent', async () => {
    const id = await engine.createContainer(specNamed('lifecycle'));

    const created = await engine.inspectContainer(id);
    expect(created).toMatchObject({
      id,
      name: specNamed('lifecycle').name,
      image: APP_REF,
      status: 'created',
      appId: 11,
      appUuid: 'app-uuid-engine-test',
      serviceName: 'main',
      serviceId: 22,
      imageId: 44,
      releaseId: 33,
      releaseUuid: 'release-uuid-engine-test',
      configHash: 'hash-1',
    });
    expect(created.startedAt).toBeUndefined();
    expect(created.exitCode).toBeUndefined();
    expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false);

    await engine.startContainer(id);
    await engine.startContainer(id);
    const running = await engine.inspectContainer(id);
    expect(running.status).toBe('running');
    expect(Date.parse(running.startedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(created.createdAt));

    const stopStarted = Date.now();
    await engine.stopContainer(id, 1);
    expect(Date.now() - stopStarted).toBeLessThan(5_000);
    await engine.stopContainer(id, 1);
    await engine.killContainer(id);
    const stopped = await engine.inspectContainer(id);
    expect(stopped.status).toBe('exited');
    expect(stopped.exitCode).toEqual(expect.any(Number));

    await engine.startContainer(id);
    await engine.killContainer(id);
    const killed = await engine.inspectContainer(id);
    expect(killed.status).toBe('exited');
    expect(killed.exitCode).toBe(137);

    await engine.removeContainer(id);
    await engine.removeContainer(id);
    await expect(engine.inspectContainer(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.startContainer(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.stopContainer(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('refuses to remove a running container without force, and removes it with force', async () => {
    const id = await engine.createContainer(specNamed('force'));
    await engine.startContainer(id);
    await expect(engine.removeContainer(id)).rejects.toMatchObject({ statusCode: 409 });
    await engine.removeContainer(id, { force: true });
    await expect(engine.inspectContainer(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('maps every field of the spec onto the created container', async () => {
    await engine.createVolume(VOLUME, labelsFor(DEVICE));
    const id = await engine.createContainer(
      specNamed('mapping', {
        env: { MODE: 'prod', WITH_EQUALS: 'a=b' },
        entrypoint: ['/bin/sh', '-c'],
        command: ['sleep 3600'],
        workingDir: '/tmp',
        user: '1000:1000',
        restart: 'on-failure',
        stopSignal: 'SIGINT',
        stopTimeoutSec: 7,
        tty: true,
        mounts: [{ type: 'volume', source: VOLUME, target: '/data' }],
        healthcheck: {
          test: ['CMD', 'true'],
          intervalMs: 1500,
          timeoutMs: 500,
          retries: 2,
          startPeriodMs: 100,
        },
      }),
    );
    const raw = await docker.getContainer(id).inspect();
    expect(raw.Config.Env).toEqual(expect.arrayContaining(['MODE=prod', 'WITH_EQUALS=a=b']));
    expect(raw.Config.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(raw.Config.Cmd).toEqual(['sleep 3600']);
    expect(raw.Config.WorkingDir).toBe('/tmp');
    expect(raw.Config.User).toBe('1000:1000');
    expect(raw.Config.Tty).toBe(true);
    expect((raw.Config as { StopSignal?: string }).StopSignal).toBe('SIGINT');
    expect((raw.Config as { StopTimeout?: number }).StopTimeout).toBe(7);
    expect(raw.Config.Healthcheck).toEqual({
      Test: ['CMD', 'true'],
      Interval: 1_500_000_000,
      Timeout: 500_000_000,
      Retries: 2,
      StartPeriod: 100_000_000,
    });
    expect(raw.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 0 });
    expect(raw.HostConfig.NetworkMode).toBe('none');
    expect(raw.HostConfig.Init).toBe(true);
    expect(raw.Mounts).toEqual([
      expect.objectContaining({ Type: 'volume', Name: VOLUME, Destination: '/data' }),
    ]);
    expect(raw.Config.Labels).toMatchObject(labelsFor(DEVICE));
    await engine.removeContainer(id, { force: true });
  });

  it('lists only containers labelled with the device uuid, skipping ones without bosun labels', async () => {
    const own = await engine.createContainer(specNamed('own'));
    const other = await engine.createContainer(specNamed('other', { labels: labelsFor(OTHER_DEVICE) }));
    const unlabelled = await engine.createContainer(
      specNamed('unlabelled', { labels: { [LABELS.deviceUuid]: DEVICE } }),
    );

    const listed = await engine.listContainers(DEVICE);
    const ids = listed.map((info) => info.id);
    expect(ids).toContain(own);
    expect(ids).not.toContain(other);
    expect(ids).not.toContain(unlabelled);
    expect(listed.find((info) => info.id === own)).toMatchObject({ status: 'created', serviceName: 'main' });
    expect((await engine.listContainers(OTHER_DEVICE)).map((info) => info.id)).toEqual([other]);
    // Every device's, for recovering a lost identity (other tests' containers may be there too).
    const everyDevice = (await engine.listContainersOfAllDevices()).map((info) => info.id);
    expect(everyDevice).toEqual(expect.arrayContaining([own, other]));
    expect(everyDevice).not.toContain(unlabelled);
    await expect(engine.inspectContainer(unlabelled)).rejects.toBeInstanceOf(NotFoundError);

    for (const id of [own, other, unlabelled]) await engine.removeContainer(id);
    expect(await engine.listContainers(DEVICE)).toEqual([]);
  });

  it('a second container with the same name is a NameConflictError', async () => {
    const id = await engine.createContainer(specNamed('conflict'));
    await expect(engine.createContainer(specNamed('conflict'))).rejects.toBeInstanceOf(NameConflictError);
    await engine.removeContainer(id);
  });

  it('creating a container from an absent image is a NotFoundError', async () => {
    const spec = specNamed('no-image', { image: `${REGISTRY}/bosun-engine-test/never-pulled:1` });
    await expect(engine.createContainer(spec)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('engine/docker images and volumes', () => {
  it('removes an unused image, refuses one in use, and treats a missing one as done', async () => {
    await buildImage(LOCAL_ONLY_REF, `engine-test-local-${RUN}`);
    const id = await engine.createContainer(specNamed('image-user', { image: LOCAL_ONLY_REF }));
    const inUse = engine.removeImage(LOCAL_ONLY_REF);
    await expect(inUse).rejects.toBeInstanceOf(ImageInUseError);
    await expect(inUse).rejects.toBeInstanceOf(EngineError);

    await engine.removeContainer(id);
    await engine.removeImage(LOCAL_ONLY_REF);
    expect(await engine.hasImage(LOCAL_ONLY_REF)).toBe(false);
    await engine.removeImage(LOCAL_ONLY_REF);
  });

  it('creates (idempotently), lists by device label, and removes volumes', async () => {
    const name = `${VOLUME}-lifecycle`;
    const otherName = `${VOLUME}-other`;
    await engine.createVolume(name, labelsFor(DEVICE));
    await engine.createVolume(name, labelsFor(DEVICE));
    await engine.createVolume(otherName, labelsFor(OTHER_DEVICE));

    const listed = await engine.listVolumes(DEVICE);
    expect(listed.map((volume) => volume.name)).toContain(name);
    expect(listed.map((volume) => volume.name)).not.toContain(otherName);
    expect(listed.find((volume) => volume.name === name)?.labels).toMatchObject(labelsFor(DEVICE));

    const id = await engine.createContainer(
      specNamed('volume-user', { mounts: [{ type: 'volume', source: name, target: '/data' }] }),
    );
    await expect(engine.removeVolume(name)).rejects.toBeInstanceOf(EngineError);
    await engine.removeContainer(id);

    await engine.removeVolume(name);
    await engine.removeVolume(name);
    await engine.removeVolume(otherName);
    expect((await engine.listVolumes(DEVICE)).map((volume) => volume.name)).not.toContain(name);
  });
});

describe('engine/docker with no engine', () => {
  const gone = new DockerEngine({ dockerHost: 'unix:///nonexistent/bosun-test/docker.sock' });

  it('every operation fails with EngineUnavailableError (transient)', async () => {
    await expect(gone.ping()).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(gone.ping()).rejects.toMatchObject({ code: 'EENGINE_UNAVAILABLE', transient: true });
    await expect(gone.listContainers(DEVICE)).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(gone.pullImage(PULL_REF)).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(gone.createContainer(specNamed('never'))).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(gone.removeContainer('0123')).rejects.toBeInstanceOf(EngineUnavailableError);
  });

  it('requireEngine fails loudly, naming the command that starts the stack', async () => {
    await expect(requireEngine(gone)).rejects.toThrow(
      /need a running Docker engine: run bash scripts\/stack\/up.sh/,
    );
  });

  it('a refused TCP endpoint is EngineUnavailableError too', async () => {
    const refused = new DockerEngine({ dockerHost: 'tcp://127.0.0.1:1' });
    await expect(refused.ping()).rejects.toBeInstanceOf(EngineUnavailableError);
  });
});
