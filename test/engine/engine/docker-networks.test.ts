/**
 * The Engine's network methods over the real engine: ownership by label, idempotent create, a
 * name another device owns, a container on two networks with its aliases, removal.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
// The in-memory engine is not in the bundle: it and the error class it throws come from src/.
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import { NameConflictError as MemoryNameConflictError } from '../../../src/engine/errors.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { LABELS, type ContainerSpec, type Engine, type NetworkSpec } from '../../../src/engine/types.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from '../../helpers/docker.js';
import { DEMO_1 } from '../../helpers/images.js';
import { DockerEngine, NameConflictError } from '../../helpers/shipped-agent.js';

const DEVICE = uniqueDeviceUuid();
const OTHER = uniqueDeviceUuid();
const RUN = DEVICE.slice(0, 8);
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

function network(suffix: string, device = DEVICE): NetworkSpec {
  return {
    name: `bosun-net-test-${RUN}-${suffix}`,
    labels: { [LABELS.deviceUuid]: device, [LABELS.appUuid]: 'app', 'io.bosun.network-config-hash': 'h1' },
  };
}

function spec(name: string, networks: string[]): ContainerSpec {
  return {
    name: `bosun-net-test-${RUN}-${name}`,
    image: DEMO_1,
    labels: {
      [LABELS.supervised]: 'true',
      [LABELS.appId]: '1',
      [LABELS.appUuid]: 'app',
      [LABELS.serviceName]: name,
      [LABELS.serviceId]: '1',
      [LABELS.deviceUuid]: DEVICE,
      [LABELS.releaseUuid]: 'rel',
      [LABELS.releaseId]: '1',
      [LABELS.imageId]: '1',
      [LABELS.configHash]: 'h',
    },
    env: {},
    restart: 'no',
    networkMode: 'networks',
    networks: networks.map((n, i) => ({ network: n, aliases: i === 0 ? [name, `${name}-alias`] : [name] })),
    mounts: [],
    init: true,
    stopTimeoutSec: 1,
  };
}

const docker1 = new DockerEngine({ dockerHost: DOCKER_HOST });

beforeAll(async () => {
  await requireEngine(docker1);
});
afterAll(async () => {
  await removeContainersOf(DEVICE);
  await removeContainersOf(OTHER);
});

// The Docker engine is the bundle's, the in-memory one the sources': each throws its own build's
// error classes.
describe.each([
  ['engine/docker', () => docker1 as Engine, NameConflictError],
  ['engine/memory', () => new MemoryEngine({ images: [DEMO_1] }) as Engine, MemoryNameConflictError],
])('%s networks', (_name, make, NameConflict) => {
  it('creates, lists by owner (and by name), is idempotent, refuses a name another device owns', async () => {
    const engine = make();
    const mine = network(`a${_name.length}`);
    await engine.createNetwork(mine);
    await engine.createNetwork(mine);
    const listed = await engine.listNetworks(DEVICE);
    expect(listed.filter((n) => n.name === mine.name)).toEqual([
      expect.objectContaining({
        name: mine.name,
        labels: mine.labels,
        gateway: expect.stringMatching(/^\d+\./),
      }),
    ]);
    const theirs = network(`b${_name.length}`, OTHER);
    await engine.createNetwork(theirs);
    expect((await engine.listNetworks(DEVICE)).map((n) => n.name)).not.toContain(theirs.name);
    const named = await engine.listNetworks(DEVICE, [theirs.name]);
    expect(named.find((n) => n.name === theirs.name)?.labels[LABELS.deviceUuid]).toBe(OTHER);
    await expect(engine.createNetwork({ ...theirs, labels: mine.labels })).rejects.toBeInstanceOf(
      NameConflict,
    );
    await engine.removeNetwork(theirs.name);
    await engine.removeNetwork(theirs.name);
    expect((await engine.listNetworks(DEVICE, [theirs.name])).map((n) => n.name)).not.toContain(theirs.name);
  });

  it('creates a container on its first network and connects the others, with aliases; a network in use by a running container stays', async () => {
    const engine = make();
    const front = network(`f${_name.length}`);
    const back = network(`k${_name.length}`);
    await engine.createNetwork(front);
    await engine.createNetwork(back);
    const id = await engine.createContainer(spec(`web${_name.length}`, [front.name, back.name]));
    const info = await engine.inspectContainer(id);
    expect(info.networks).toEqual([front.name, back.name].sort());
    await engine.startContainer(id);
    await expect(engine.removeNetwork(back.name)).rejects.toThrow();
    await engine.removeContainer(id, { force: true });
    await engine.removeNetwork(back.name);
    await engine.removeNetwork(front.name);
  });
});

describe('engine/docker networks as the engine sees them', () => {
  it('sets the aliases per network, and creates a bridge with the given IPAM', async () => {
    const front = {
      ...network('ipam'),
      ipam: { config: [{ subnet: '10.214.3.0/24', gateway: '10.214.3.1' }] },
      internal: true,
    };
    await docker1.createNetwork(front);
    const raw = await docker.getNetwork(front.name).inspect();
    expect(raw).toMatchObject({
      Driver: 'bridge',
      Internal: true,
      IPAM: { Config: [{ Subnet: '10.214.3.0/24', Gateway: '10.214.3.1' }] },
    });
    expect((await docker1.listNetworks(DEVICE)).find((n) => n.name === front.name)?.gateway).toBe(
      '10.214.3.1',
    );
    const id = await docker1.createContainer(spec('aliased', [front.name]));
    const inspect = await docker.getContainer(id).inspect();
    expect(inspect.NetworkSettings.Networks[front.name]?.Aliases).toEqual(
      expect.arrayContaining(['aliased', 'aliased-alias']),
    );
    expect(inspect.HostConfig.NetworkMode).toBe(front.name);
    await docker1.removeContainer(id, { force: true });
    await docker1.removeNetwork(front.name);
  });
});
