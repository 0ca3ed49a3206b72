import { afterEach, describe, expect, it, jest } from '@jest/globals';
import {
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageInUseError,
  ImageNotFoundError,
  NameConflictError,
  NotFoundError,
} from '../../../src/engine/errors.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { LABELS, type ContainerSpec, type PullProgress } from '../../../src/engine/types.js';

const DEVICE = 'device-one';
const IMAGE = 'registry.test/app:1';

function labelsFor(deviceUuid: string, serviceName = 'main'): Record<string, string> {
  return {
    [LABELS.supervised]: 'true',
    [LABELS.appId]: '1',
    [LABELS.appUuid]: 'app-uuid',
    [LABELS.serviceName]: serviceName,
    [LABELS.serviceId]: '2',
    [LABELS.deviceUuid]: deviceUuid,
    [LABELS.releaseUuid]: 'release-uuid',
    [LABELS.releaseId]: '3',
    [LABELS.imageId]: '4',
    [LABELS.configHash]: 'hash',
  };
}

function spec(name: string, overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    name,
    image: IMAGE,
    labels: labelsFor(DEVICE),
    env: { MODE: 'test' },
    restart: 'always',
    networkMode: 'none',
    mounts: [],
    ...overrides,
  };
}

/** A clock that moves one second per reading, so timestamps are predictable. */
function tickingClock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let now = start;
  return () => {
    const date = new Date(now);
    now += 1000;
    return date;
  };
}

/** A sleep the test releases by hand, to watch a pull step by step. */
function manualSleep() {
  const waiting: Array<() => void> = [];
  return {
    sleep: () => new Promise<void>((resolve) => waiting.push(resolve)),
    pending: () => waiting.length,
    release: () => waiting.shift()?.(),
  };
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('engine/memory pullImage', () => {
  it('pulls instantly by default, reporting 100%', async () => {
    const engine = new MemoryEngine();
    const events: PullProgress[] = [];
    await engine.pullImage(IMAGE, { onProgress: (progress) => events.push(progress) });
    expect(await engine.hasImage(IMAGE)).toBe(true);
    expect(events).toEqual([
      {
        image: IMAGE,
        layersTotal: 1,
        layersDone: 1,
        bytesTotal: 1_000_000,
        bytesDone: 1_000_000,
        percent: 100,
      },
    ]);
  });

  it('rejects a reference the registry does not hold with ImageNotFoundError', async () => {
    const bySet = new MemoryEngine({ registry: new Set([IMAGE]) });
    await expect(bySet.pullImage('registry.test/app:404')).rejects.toBeInstanceOf(ImageNotFoundError);
    await bySet.pullImage(IMAGE);
    const byFunction = new MemoryEngine({ registry: (ref) => ref.endsWith(':1') });
    await expect(byFunction.pullImage('registry.test/app:2')).rejects.toBeInstanceOf(ImageNotFoundError);
    expect(await byFunction.hasImage('registry.test/app:2')).toBe(false);
  });

  it('spreads a slow pull over pullSteps progress events; the image appears only at the end', async () => {
    const clock = manualSleep();
    const engine = new MemoryEngine({ pullDelayMs: 1000, pullSteps: 4, sleep: clock.sleep });
    const percents: number[] = [];
    const pull = engine.pullImage(IMAGE, { onProgress: (progress) => percents.push(progress.percent) });
    await flush();
    expect(percents).toEqual([0]);
    for (let step = 0; step < 3; step += 1) {
      clock.release();
      await flush();
    }
    expect(percents).toEqual([0, 25, 50, 75]);
    expect(await engine.hasImage(IMAGE)).toBe(false);
    clock.release();
    await pull;
    expect(percents).toEqual([0, 25, 50, 75, 100]);
    expect(await engine.hasImage(IMAGE)).toBe(true);
  });

  it('an image already present pulls at once, whatever the delay', async () => {
    const engine = new MemoryEngine({ pullDelayMs: 60_000, images: [IMAGE] });
    await engine.pullImage(IMAGE);
    expect(engine.callCount('pullImage')).toBe(1);
  });

  it('counts the pulls asked for by reference, present or not', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    await engine.pullImage(IMAGE);
    await engine.pullImage('registry.test/app:2');
    await engine.pullImage('registry.test/app:2');
    expect([IMAGE, 'registry.test/app:2', 'registry.test/app:3'].map((ref) => engine.pullCount(ref))).toEqual(
      [1, 2, 0],
    );
  });

  it('aborts a pull in flight and before it starts, leaving no image', async () => {
    const engine = new MemoryEngine({ pullDelayMs: 10_000 });
    const controller = new AbortController();
    const pull = engine.pullImage(IMAGE, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(pull).rejects.toBeInstanceOf(AbortedError);
    expect(await engine.hasImage(IMAGE)).toBe(false);
    await expect(engine.pullImage(IMAGE, { signal: controller.signal })).rejects.toBeInstanceOf(AbortedError);
  });

  it('stops a pull on abort even when the injected sleep ignores the signal', async () => {
    const clock = manualSleep();
    const engine = new MemoryEngine({ pullDelayMs: 100, pullSteps: 2, sleep: clock.sleep });
    const controller = new AbortController();
    const pull = engine.pullImage(IMAGE, { signal: controller.signal });
    await flush();
    controller.abort();
    clock.release();
    await expect(pull).rejects.toBeInstanceOf(AbortedError);
    expect(clock.pending()).toBe(0);
    expect(await engine.hasImage(IMAGE)).toBe(false);
  });
});

describe('engine/memory containers', () => {
  it('runs the lifecycle with timestamps and exit codes, each step idempotent', async () => {
    const engine = new MemoryEngine({ images: [IMAGE], now: tickingClock() });
    const id = await engine.createContainer(spec('main_4_3_release-uuid'));
    const created = await engine.inspectContainer(id);
    expect(created).toEqual({
      id,
      name: 'main_4_3_release-uuid',
      image: IMAGE,
      status: 'created',
      appId: 1,
      appUuid: 'app-uuid',
      serviceName: 'main',
      serviceId: 2,
      imageId: 4,
      releaseId: 3,
      releaseUuid: 'release-uuid',
      configHash: 'hash',
      labels: labelsFor(DEVICE),
      createdAt: '2030-01-01T00:00:00.000Z',
    });

    await engine.startContainer(id);
    await engine.startContainer(id);
    expect(await engine.inspectContainer(id)).toMatchObject({
      status: 'running',
      startedAt: '2030-01-01T00:00:01.000Z',
    });

    await engine.stopContainer(id, 10);
    await engine.stopContainer(id);
    await engine.killContainer(id);
    expect(await engine.inspectContainer(id)).toMatchObject({ status: 'exited', exitCode: 0 });

    await engine.startContainer(id);
    const restarted = await engine.inspectContainer(id);
    expect(restarted.startedAt).toBe('2030-01-01T00:00:02.000Z');
    expect(restarted.exitCode).toBeUndefined();
    await engine.killContainer(id, 'SIGTERM');
    expect((await engine.inspectContainer(id)).exitCode).toBe(143);
    await engine.startContainer(id);
    await engine.killContainer(id);
    expect((await engine.inspectContainer(id)).exitCode).toBe(137);

    await engine.removeContainer(id);
    await engine.removeContainer(id);
    await expect(engine.inspectContainer(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.startContainer(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.stopContainer(id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(engine.killContainer(id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('removes a running container only with force', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const id = await engine.createContainer(spec('a'));
    await engine.startContainer(id);
    await expect(engine.removeContainer(id)).rejects.toMatchObject({ statusCode: 409 });
    await engine.removeContainer(id, { force: true });
    expect(await engine.listContainers(DEVICE)).toEqual([]);
  });

  it('never restarts a container by itself: an exit stays an exit', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const id = await engine.createContainer(spec('a', { restart: 'always' }));
    await engine.startContainer(id);
    engine.simulateExit(id, 3);
    expect(await engine.inspectContainer(id)).toMatchObject({ status: 'exited', exitCode: 3 });
    expect(() => engine.simulateExit(id, 1)).toThrow(EngineError);
  });

  it('requires the image locally and unique names', async () => {
    const engine = new MemoryEngine();
    await expect(engine.createContainer(spec('a'))).rejects.toBeInstanceOf(NotFoundError);
    await engine.pullImage(IMAGE);
    await engine.createContainer(spec('a'));
    await expect(engine.createContainer(spec('a'))).rejects.toBeInstanceOf(NameConflictError);
  });

  it('lists only the containers of the device that carry bosun labels, as copies', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const own = await engine.createContainer(spec('own'));
    await engine.createContainer(spec('other', { labels: labelsFor('device-two') }));
    const bare = await engine.createContainer(spec('bare', { labels: { [LABELS.deviceUuid]: DEVICE } }));

    const listed = await engine.listContainers(DEVICE);
    expect(listed.map((info) => info.id)).toEqual([own]);
    expect((await engine.listContainers('device-two')).map((info) => info.name)).toEqual(['other']);
    expect((await engine.listContainersOfAllDevices()).map((info) => info.name)).toEqual(['own', 'other']);
    await expect(engine.inspectContainer(bare)).rejects.toBeInstanceOf(NotFoundError);

    (listed[0] as { labels: Record<string, string> }).labels[LABELS.serviceName] = 'changed';
    expect((await engine.inspectContainer(own)).serviceName).toBe('main');
  });

  it('keeps its own copy of the spec', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const original = spec('a');
    const id = await engine.createContainer(original);
    original.env.MODE = 'changed';
    expect(engine.specOf(id).env).toEqual({ MODE: 'test' });
  });

  it('hands out the same ids in the same order in every instance', async () => {
    const ids = await Promise.all(
      [1, 2].map(async () => {
        const engine = new MemoryEngine({ images: [IMAGE] });
        return [await engine.createContainer(spec('a')), await engine.createContainer(spec('b'))];
      }),
    );
    expect(ids[0]).toEqual(ids[1]);
    expect(new Set(ids[0]).size).toBe(2);
    expect(ids[0]?.[0]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("engine/memory exitAfterStart (the simulated fleet's crashing releases)", () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  const CRASHING = 'registry.test/app:crash';

  /** An engine whose containers of CRASHING exit 1 half a second after each start. */
  function crashingEngine(asked: string[] = []) {
    return new MemoryEngine({
      images: [IMAGE, CRASHING],
      exitAfterStart: (container) => {
        asked.push(`${container.name} ${container.releaseUuid}`);
        return container.image === CRASHING ? { afterMs: 500, exitCode: 1 } : undefined;
      },
    });
  }

  it('a container it answers for exits with that code that long after each start; others run on', async () => {
    jest.useFakeTimers();
    const asked: string[] = [];
    const engine = crashingEngine(asked);
    const crashing = await engine.createContainer(spec('crashing', { image: CRASHING }));
    const steady = await engine.createContainer(spec('steady'));
    await engine.startContainer(crashing);
    await engine.startContainer(steady);
    expect(asked).toEqual(['crashing release-uuid', 'steady release-uuid']);
    jest.advanceTimersByTime(499);
    expect((await engine.inspectContainer(crashing)).status).toBe('running');
    jest.advanceTimersByTime(1);
    expect(await engine.inspectContainer(crashing)).toMatchObject({ status: 'exited', exitCode: 1 });
    expect((await engine.inspectContainer(steady)).status).toBe('running');

    await engine.startContainer(crashing);
    jest.advanceTimersByTime(500);
    expect(await engine.inspectContainer(crashing)).toMatchObject({ status: 'exited', exitCode: 1 });
    expect(jest.getTimerCount()).toBe(0);
  });

  it('a stop, kill or removal before the exit voids it: a later run gets its own', async () => {
    jest.useFakeTimers();
    const engine = crashingEngine();
    const id = await engine.createContainer(spec('crashing', { image: CRASHING }));
    await engine.startContainer(id);
    jest.advanceTimersByTime(100);
    await engine.stopContainer(id);
    expect(jest.getTimerCount()).toBe(0);
    await engine.startContainer(id);
    jest.advanceTimersByTime(450);
    // The first run's exit would have fallen here; the second run has 50 ms to go.
    expect((await engine.inspectContainer(id)).status).toBe('running');
    await engine.killContainer(id, 'SIGTERM');
    expect(await engine.inspectContainer(id)).toMatchObject({ status: 'exited', exitCode: 143 });

    await engine.startContainer(id);
    await engine.removeContainer(id, { force: true });
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe('engine/memory images and volumes', () => {
  it('refuses to remove an image a container uses; a missing image is already removed', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const id = await engine.createContainer(spec('a'));
    await expect(engine.removeImage(IMAGE)).rejects.toBeInstanceOf(ImageInUseError);
    await engine.removeContainer(id);
    await engine.removeImage(IMAGE);
    await engine.removeImage(IMAGE);
    expect(await engine.hasImage(IMAGE)).toBe(false);
  });

  it('creates volumes idempotently, lists them by device, refuses to remove one in use', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    await engine.createVolume('1_data', labelsFor(DEVICE));
    await engine.createVolume('1_data', labelsFor(DEVICE));
    await engine.createVolume('2_data', labelsFor('device-two'));
    expect(await engine.listVolumes(DEVICE)).toEqual([{ name: '1_data', labels: labelsFor(DEVICE) }]);

    const id = await engine.createContainer(
      spec('a', { mounts: [{ type: 'volume', source: '1_data', target: '/data' }] }),
    );
    await expect(engine.removeVolume('1_data')).rejects.toMatchObject({ statusCode: 409 });
    await engine.removeContainer(id);
    await engine.removeVolume('1_data');
    await engine.removeVolume('1_data');
    expect(await engine.listVolumes(DEVICE)).toEqual([]);
  });
});

describe('engine/memory failure controls', () => {
  it('failNext makes exactly the next call of that operation fail', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const boom = new EngineError('disk full', 500);
    engine.failNext('createContainer', boom);
    await expect(engine.createContainer(spec('a'))).rejects.toBe(boom);
    await expect(engine.listContainers(DEVICE)).resolves.toEqual([]);
    await engine.createContainer(spec('a'));
    expect(engine.callCount('createContainer')).toBe(2);
  });

  it('while unavailable every operation is EngineUnavailableError, and state survives', async () => {
    const engine = new MemoryEngine({ images: [IMAGE] });
    const id = await engine.createContainer(spec('a'));
    engine.setAvailable(false);
    await expect(engine.ping()).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(engine.listContainers(DEVICE)).rejects.toBeInstanceOf(EngineUnavailableError);
    await expect(engine.startContainer(id)).rejects.toBeInstanceOf(EngineUnavailableError);
    engine.setAvailable(true);
    await engine.ping();
    expect((await engine.listContainers(DEVICE)).map((info) => info.id)).toEqual([id]);
  });

  it('rejects a negative pull delay', () => {
    expect(() => new MemoryEngine({ pullDelayMs: -1 })).toThrow(RangeError);
  });
});
