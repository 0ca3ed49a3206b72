import { describe, expect, it } from '@jest/globals';
import type { ContainerInfo, NetworkInfo } from '../../../src/engine/types.js';
import { planSteps } from '../../../src/reconcile/plan.js';
import {
  NETWORK_CONFIG_HASH_LABEL,
  networkSpecFor,
  serviceHashes,
} from '../../../src/reconcile/network-plan.js';
import type { Step, StepOf } from '../../../src/reconcile/steps.js';
import type { NetworkConfig, TargetApp, TargetService } from '../../../src/target/types.js';
import { app, container, facts, service, target } from '../../helpers/builders.js';

const actions = (steps: Step[]) => steps.map((s) => s.action);
const held = { a1: { userLocks: [], agentHolds: true } };
const IMAGES = new Set(['reg/web:1', 'reg/client:1']);

const onDefault = (name: string, over: Partial<TargetService['composition']> = {}) =>
  service(name, {
    image: `reg/${name}:1`,
    composition: {
      ...service(name).composition,
      networkMode: 'app',
      networks: [{ name: 'default' }],
      ...over,
    },
  });

/** App a1 (id 1), release rel1, with `networks` declared and the given services. */
function netApp(networks: Record<string, NetworkConfig>, services: TargetService[]): TargetApp {
  const a = app('a1', 1, { uuid: 'rel1', id: 1, services });
  a.release!.networks = networks;
  return a;
}

/** The network as the engine reports it once the agent of `device` created it for `a`. */
function present(a: TargetApp, name: string, over: { device?: string; gateway?: string } = {}): NetworkInfo {
  const spec = networkSpecFor(a, name, a.release!.networks[name]!, over.device ?? 'device-1');
  return { id: `n-${name}`, name: spec.name, labels: spec.labels, gateway: over.gateway ?? '10.0.0.1' };
}

/** A running container of `svc` attached to the networks it joins, with its folded hash. */
function onNet(a: TargetApp, svc: TargetService, networks: string[], over: Partial<ContainerInfo> = {}) {
  return container(a, svc, {
    configHash: serviceHashes(a.release!).get(svc.serviceName)!,
    networks,
    ...over,
  });
}

const web = onDefault('web');
const client = onDefault('client');
const a1 = netApp({ default: { driver: 'bridge' } }, [web, client]);

describe('reconcile/plan: app networks, first install', () => {
  it('creates the default network first, with ownership labels, and no container yet', () => {
    const plan = planSteps(target(a1), facts({ images: IMAGES }));
    expect(actions(plan.steps)).toEqual(['createNetwork']);
    const step = plan.steps[0] as StepOf<'createNetwork'>;
    expect(step.network).toBe('1_default');
    expect(step.spec.labels).toMatchObject({
      'io.balena.supervised': 'true',
      'io.balena.app-id': '1',
      'io.balena.app-uuid': 'a1',
      'io.bosun.device-uuid': 'device-1',
    });
    expect(step.spec.labels[NETWORK_CONFIG_HASH_LABEL]).toMatch(/^[0-9a-f]{16}$/);
  });

  it('network ready: creates the containers on it, each reachable by its service name, API at the gateway', () => {
    const plan = planSteps(target(a1), facts({ images: IMAGES, networks: [present(a1, 'default')] }));
    expect(actions(plan.steps)).toEqual(['create', 'create']);
    const create = plan.steps.find(
      (s) => s.action === 'create' && s.serviceName === 'web',
    ) as StepOf<'create'>;
    expect(create.spec.networkMode).toBe('networks');
    expect(create.spec.networks).toEqual([{ network: '1_default', aliases: ['web'] }]);
    expect(create.spec.env.BALENA_SUPERVISOR_ADDRESS).toBe('http://10.0.0.1:48484');
    expect(create.spec.env.BALENA_SUPERVISOR_HOST).toBe('10.0.0.1');
  });

  it('a service on two networks: aliases and fixed address per network, the first network first', () => {
    const multi = onDefault('web', {
      networks: [{ name: 'front', aliases: ['www'], ipv4Address: '172.30.0.10' }, { name: 'back' }],
    });
    const a = netApp(
      {
        front: { driver: 'bridge', ipam: { config: [{ subnet: '172.30.0.0/24' }] } },
        back: { driver: 'bridge', internal: true },
      },
      [multi],
    );
    const plan = planSteps(
      target(a),
      facts({
        images: IMAGES,
        networks: [present(a, 'front', { gateway: '172.30.0.1' }), present(a, 'back')],
      }),
    );
    const create = plan.steps[0] as StepOf<'create'>;
    expect(create.spec.networks).toEqual([
      { network: '1_front', aliases: ['web', 'www'], ipv4Address: '172.30.0.10' },
      { network: '1_back', aliases: ['web'] },
    ]);
    expect(create.spec.env.BALENA_SUPERVISOR_ADDRESS).toBe('http://172.30.0.1:48484');
  });

  it('converged: an unchanged release on its network plans nothing', () => {
    const f = facts({
      images: IMAGES,
      networks: [present(a1, 'default')],
      containers: [onNet(a1, web, ['1_default']), onNet(a1, client, ['1_default'])],
    });
    expect(planSteps(target(a1), f).steps).toEqual([]);
  });
});

describe('reconcile/plan: network_mode service:', () => {
  const peer = service('sidecar', {
    image: 'reg/client:1',
    composition: { ...service('sidecar').composition, networkMode: 'service:web' },
  });
  const a = netApp({ default: { driver: 'bridge' } }, [web, peer]);
  const base = { images: IMAGES, networks: [present(a, 'default')] };

  it('is created only once the service whose stack it shares exists, and starts after it', () => {
    expect(actions(planSteps(target(a), facts(base)).steps)).toEqual(['create']);
    const created = onNet(a, web, ['1_default'], { status: 'created' });
    const plan = planSteps(target(a), facts({ ...base, containers: [created] }));
    const create = plan.steps.find((s) => s.action === 'create') as StepOf<'create'>;
    expect(create.serviceName).toBe('sidecar');
    expect(create.start).toBe(false);
    expect(create.spec.networkMode).toBe('container:web_100_1_rel1');
    expect(create.spec.env.BALENA_SUPERVISOR_ADDRESS).toBe('http://10.0.0.1:48484');
  });

  it('a change of the service it shares with recreates it too (its hash folds the peer in)', () => {
    const changed = netApp({ default: { driver: 'bridge' } }, [{ ...web, environment: { NEW: '1' } }, peer]);
    expect(serviceHashes(changed.release!).get('sidecar')).not.toBe(serviceHashes(a.release!).get('sidecar'));
  });
});

describe('reconcile/plan: a network whose configuration changes', () => {
  const changed = netApp({ default: { driver: 'bridge', internal: true } }, [web, client]);
  const old = [onNet(a1, web, ['1_default']), onNet(a1, client, ['1_default'])];
  const oldNet = present(a1, 'default');

  it.each([
    [
      'containers attached: take the lock and kill them (interrupting), the network stays',
      facts({ images: IMAGES, networks: [oldNet], containers: old }),
      ['takeLock', 'kill', 'kill'],
    ],
    [
      'lock held, containers gone: remove the network',
      facts({ images: IMAGES, networks: [oldNet], locks: held }),
      ['removeNetwork'],
    ],
    [
      'network gone: create it with the new configuration',
      facts({ images: IMAGES, networks: [], locks: held }),
      ['createNetwork'],
    ],
    [
      'new network there: create the containers',
      facts({ images: IMAGES, networks: [present(changed, 'default')], locks: held }),
      ['create', 'create'],
    ],
  ])('%s', (_name, f, expected) => {
    expect(actions(planSteps(target(changed), f).steps)).toEqual(expected);
  });

  it('waits on a user lock: nothing is removed, nothing is killed', () => {
    const locked = { a1: { userLocks: [{ ...userLockEntry }], agentHolds: false } };
    const plan = planSteps(
      target(changed),
      facts({ images: IMAGES, networks: [oldNet], containers: old, locks: locked }),
    );
    expect(actions(plan.steps)).toEqual(['wait']);
    expect(plan.apps.a1!.phase).toBe('locked');
  });

  it('a service whose networks (or aliases) change is recreated: its hash changes', () => {
    const aliased = netApp({ default: { driver: 'bridge' } }, [
      onDefault('web', { networks: [{ name: 'default', aliases: ['www'] }] }),
      client,
    ]);
    const before = serviceHashes(a1.release!);
    const after = serviceHashes(aliased.release!);
    expect(after.get('web')).not.toBe(before.get('web'));
    expect(after.get('client')).toBe(before.get('client'));
  });
});

const userLockEntry = {
  appUuid: 'a1',
  appId: 1,
  serviceName: 'web',
  path: '/tmp/balena/updates.lock',
  hostPath: '/host/tmp/balena/updates.lock',
  holder: 'app' as const,
  since: '',
};

describe('reconcile/plan: networks no target names any more', () => {
  const hostOnly = app('a1', 1, { uuid: 'rel2', id: 2, services: [service('main', { image: 'reg/web:1' })] });
  const left = present(a1, 'default');

  it('is removed once nothing is attached to it', () => {
    const plan = planSteps(
      target(hostOnly),
      facts({
        images: IMAGES,
        networks: [left],
        containers: [container(hostOnly, hostOnly.release!.services.main!)],
      }),
    );
    expect(plan.steps).toEqual([{ action: 'removeNetwork', appUuid: 'a1', network: '1_default' }]);
  });

  it('stays while a container is still attached to it', () => {
    const attached = onNet(a1, web, ['1_default']);
    const plan = planSteps(target(), facts({ networks: [left], containers: [attached] }));
    expect(actions(plan.steps)).toEqual(['takeLock', 'kill']);
  });

  it('an app removed from the target: its network goes with its last container', () => {
    expect(planSteps(target(), facts({ networks: [left] })).steps).toEqual([
      { action: 'removeNetwork', appUuid: 'a1', network: '1_default' },
    ]);
  });
});

describe("reconcile/plan: a network of the app's name that another device owns", () => {
  it.each([
    ['another device uuid', present(a1, 'default', { device: 'device-2' }), /belongs to device device-2/],
    ['no labels at all', { id: 'x', name: '1_default', labels: {} }, /has no device label/],
  ])('%s: the release is refused, nothing is touched, the app shows the error', (_name, foreign, message) => {
    const running = app('a1', 1, {
      uuid: 'rel0',
      id: 9,
      services: [service('main', { image: 'reg/web:1' })],
    });
    const old = container(running, running.release!.services.main!);
    const plan = planSteps(target(a1), facts({ images: IMAGES, networks: [foreign], containers: [old] }));
    expect(plan.steps).toEqual([
      { action: 'wait', appUuid: 'a1', reason: 'conflict', message: expect.stringMatching(message) },
    ]);
    expect(plan.apps.a1!.error).toMatch(/network 1_default already exists and is not this app's/);
  });
});

describe('reconcile/plan: hand-over across a network that is made again', () => {
  it('kills the old container (no hand-over is possible while it holds the network)', () => {
    const handover = { ...web, strategy: 'hand-over' as const };
    const before = netApp({ default: { driver: 'bridge' } }, [handover]);
    const after = netApp({ default: { driver: 'bridge', internal: true } }, [handover]);
    const old = onNet(before, handover, ['1_default']);
    const plan = planSteps(
      target(after),
      facts({ images: IMAGES, networks: [present(before, 'default')], containers: [old], locks: held }),
    );
    expect(actions(plan.steps)).toEqual(['kill']);
  });
});
