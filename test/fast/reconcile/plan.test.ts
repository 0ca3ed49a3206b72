import { describe, expect, it } from '@jest/globals';
import { planSteps } from '../../../src/reconcile/plan.js';
import { stepApp, type Step } from '../../../src/reconcile/steps.js';
import { app, container, facts, service, target, userLock } from '../../helpers/builders.js';

const actions = (steps: Step[]) => steps.map((s) => s.action);
const held = (appUuid: string) => ({ [appUuid]: { userLocks: [], agentHolds: true } });

const main1 = service('main', { image: 'reg/main:1', imageId: 101 });
const main2 = service('main', { image: 'reg/main:2', imageId: 102 });
const r1 = app('a1', 1, { uuid: 'rel1', id: 1, services: [main1] });
const r2 = app('a1', 1, { uuid: 'rel2', id: 2, services: [main2] });

describe('reconcile/plan: first install', () => {
  it.each([
    ['image missing: fetch', facts(), ['fetch']],
    ['image present: create', facts({ images: new Set(['reg/main:1']) }), ['create']],
    [
      'container created: start',
      facts({ images: new Set(['reg/main:1']), containers: [container(r1, main1, { status: 'created' })] }),
      ['start'],
    ],
    [
      'running: converged, nothing to do',
      facts({ images: new Set(['reg/main:1']), containers: [container(r1, main1)] }),
      [],
    ],
  ])('%s', (_name, f, expected) => {
    expect(actions(planSteps(target(r1), f).steps)).toEqual(expected);
  });

  it('creates the container with the contract name, labels and mounts', () => {
    const plan = planSteps(target(r1), facts({ images: new Set(['reg/main:1']) }));
    const create = plan.steps[0] as Extract<Step, { action: 'create' }>;
    expect(create.spec.name).toBe('main_101_1_rel1');
    expect(create.spec.labels).toMatchObject({
      'io.balena.supervised': 'true',
      'io.balena.app-id': '1',
      'io.balena.app-uuid': 'a1',
      'io.balena.service-name': 'main',
      'io.bosun.device-uuid': 'device-1',
    });
    expect(create.spec.mounts.map((m) => m.target)).toEqual(['/data', '/tmp/balena', '/tmp/resin']);
    expect(create.spec.env).toMatchObject({
      BALENA: '1',
      RESIN: '1',
      BALENA_APP_LOCK_PATH: '/tmp/balena/updates.lock',
      BALENA_SUPERVISOR_ADDRESS: 'http://127.0.0.1:48484',
      BALENA_DEVICE_UUID: 'device-1',
    });
  });
});

describe('reconcile/plan: release change, download-then-kill', () => {
  const old = container(r1, main1);
  it.each([
    [
      'new image missing: fetch only, old keeps running',
      facts({ containers: [old] }),
      ['fetch'],
      'downloading',
    ],
    [
      'image present, lock not held: take the lock, then kill (the loop kills only if it got the lock)',
      facts({ containers: [old], images: new Set(['reg/main:2']) }),
      ['takeLock', 'kill'],
      'applying changes',
    ],
    [
      'lock held: kill the old container',
      facts({ containers: [old], images: new Set(['reg/main:2']), locks: held('a1') }),
      ['kill'],
      'applying changes',
    ],
    [
      'old gone: create the new one',
      facts({ images: new Set(['reg/main:2']), locks: held('a1') }),
      ['create'],
      'applying changes',
    ],
    [
      'new one running: release the lock (not done until it is released)',
      facts({ containers: [container(r2, main2)], images: new Set(['reg/main:2']), locks: held('a1') }),
      ['releaseLock'],
      'applying changes',
    ],
    [
      'lock released: done',
      facts({ containers: [container(r2, main2)], images: new Set(['reg/main:2']) }),
      [],
      'done',
    ],
  ])('%s', (_name, f, expected, phase) => {
    const plan = planSteps(target(r2), f);
    expect(actions(plan.steps)).toEqual(expected);
    expect(plan.apps.a1!.phase).toBe(phase);
  });
});

describe('reconcile/plan: update locks', () => {
  const old = container(r1, main1);
  const locked = { a1: { userLocks: [userLock('a1')], agentHolds: false } };
  const ready = { containers: [old], images: new Set(['reg/main:2']), locks: locked };

  it('waits while the app holds its lock, and reports the path', () => {
    const plan = planSteps(target(r2), facts(ready));
    expect(plan.steps).toEqual([
      { action: 'wait', appUuid: 'a1', reason: 'locked', paths: ['/tmp/balena/updates.lock'] },
    ]);
    expect(plan.apps.a1).toMatchObject({ phase: 'locked', lockPaths: ['/tmp/balena/updates.lock'] });
  });

  it('downloads while locked: the lock never delays a fetch', () => {
    const plan = planSteps(target(r2), facts({ ...ready, images: new Set() }));
    expect(actions(plan.steps)).toEqual(['fetch']);
  });

  it.each([
    ['the API force', { override: { device: false, force: true } }, target(r2)],
    ['the device override', { override: { device: true, force: false } }, target(r2)],
    [
      'RESIN_OVERRIDE_LOCK in a service environment',
      {},
      target(app('a1', 1, { uuid: 'rel2', id: 2, services: [{ ...main2, overrideLock: true }] })),
    ],
  ])('%s takes the lock over the user lock', (_name, over, t) => {
    const plan = planSteps(t, facts({ ...ready, ...over }));
    expect(plan.steps).toEqual([
      { action: 'takeLock', appUuid: 'a1', appId: 1, serviceNames: ['main'], override: true },
      expect.objectContaining({ action: 'kill', containerId: old.id }),
    ]);
  });

  it("an app key's force overrides its own app's lock only (contract section 8)", () => {
    const scoped = (appIds: number[]) => ({
      override: { device: false, force: false, forceApps: new Set(appIds) },
    });
    const own = planSteps(target(r2), facts({ ...ready, ...scoped([1]) }));
    expect(own.steps[0]).toMatchObject({ action: 'takeLock', appUuid: 'a1', override: true });
    const other = planSteps(target(r2), facts({ ...ready, ...scoped([2]) }));
    expect(other.steps).toEqual([
      { action: 'wait', appUuid: 'a1', reason: 'locked', paths: ['/tmp/balena/updates.lock'] },
    ]);
  });

  it('a locked app does not block another app', () => {
    const other1 = service('web', { image: 'reg/web:1', imageId: 201 });
    const other = app('a2', 2, { uuid: 'relB', id: 3, services: [other1] });
    const plan = planSteps(
      target(r2, other),
      facts({ ...ready, images: new Set(['reg/main:2', 'reg/web:1']) }),
    );
    expect(plan.steps.map((s) => `${s.action}:${stepApp(s)}`)).toEqual(['wait:a1', 'create:a2']);
  });

  it('removing a dead container needs no lock', () => {
    const dead = container(r1, main1, { status: 'exited' });
    const plan = planSteps(target(r2), facts({ ...ready, containers: [dead] }));
    expect(actions(plan.steps)).toEqual(['remove']);
  });
});

describe('reconcile/plan: strategies', () => {
  const strategy = (s: 'kill-then-download' | 'delete-then-download') => {
    const svc = { ...main2, strategy: s };
    return { svc, t: target(app('a1', 1, { uuid: 'rel2', id: 2, services: [svc] })) };
  };
  const old = container(r1, main1);

  it('kill-then-download kills before fetching', () => {
    const { t } = strategy('kill-then-download');
    expect(actions(planSteps(t, facts({ containers: [old] })).steps)).toEqual(['takeLock', 'kill']);
    expect(actions(planSteps(t, facts({ containers: [old], locks: held('a1') })).steps)).toEqual(['kill']);
    expect(actions(planSteps(t, facts({ locks: held('a1') })).steps)).toEqual(['fetch']);
  });

  it("kills with the old container's own grace period, not the new release's", () => {
    const slowOld = { ...main2, composition: { ...main2.composition, stopGracePeriodSec: 1 } };
    const t = target(app('a1', 1, { uuid: 'rel2', id: 2, services: [slowOld] }));
    const plan = planSteps(
      t,
      facts({ containers: [old], images: new Set(['reg/main:2']), locks: held('a1') }),
    );
    expect(plan.steps).toEqual([expect.objectContaining({ action: 'kill', containerId: old.id })]);
    expect(plan.steps[0]).not.toHaveProperty('timeoutSec');
  });

  it('delete-then-download also deletes the old image with the kill', () => {
    const { t } = strategy('delete-then-download');
    const plan = planSteps(t, facts({ containers: [old], locks: held('a1') }));
    expect(plan.steps).toEqual([expect.objectContaining({ action: 'kill', removeImage: 'reg/main:1' })]);
  });

  describe('hand-over', () => {
    const svc = { ...main2, strategy: 'hand-over' as const, handoverTimeoutMs: 5_000 };
    const t = target(app('a1', 1, { uuid: 'rel2', id: 2, services: [svc] }));
    const a = t.apps.a1!;
    const images = new Set(['reg/main:2']);

    it('starts the new container beside the old one, without a lock', () => {
      expect(actions(planSteps(t, facts({ containers: [old], images })).steps)).toEqual(['create']);
    });

    it('waits for the marker while the timeout has not passed', () => {
      const fresh = container(a, svc, { startedAt: '2026-01-01T00:01:58Z' });
      const plan = planSteps(t, facts({ containers: [old, fresh], images }));
      expect(plan.steps).toEqual([
        { action: 'wait', appUuid: 'a1', reason: 'handover', serviceName: 'main', ms: 3000 },
      ]);
    });

    it('kills the old one once the marker exists', () => {
      const fresh = container(a, svc, { startedAt: '2026-01-01T00:01:58Z' });
      const f = facts({ containers: [old, fresh], images, handoverDone: new Set(['a1/main']) });
      expect(actions(planSteps(t, f).steps)).toEqual(['takeLock', 'kill']);
      const killing = planSteps(t, { ...f, locks: held('a1') }).steps[0];
      expect(killing).toMatchObject({ action: 'kill', containerId: old.id, clearHandover: { appId: 1 } });
    });

    it('kills the old one when the timeout has passed', () => {
      const fresh = container(a, svc, { startedAt: '2026-01-01T00:01:50Z' });
      const f = facts({ containers: [old, fresh], images, locks: held('a1') });
      expect(planSteps(t, f).steps[0]).toMatchObject({ action: 'kill', containerId: old.id });
    });
  });
});

describe('reconcile/plan: changes within a release', () => {
  it('a config-only change recreates the container', () => {
    const changed = { ...main1, environment: { MODE: 'debug' } };
    const t = target(app('a1', 1, { uuid: 'rel1', id: 1, services: [changed] }));
    const f = facts({
      containers: [container(r1, main1)],
      images: new Set(['reg/main:1']),
      locks: held('a1'),
    });
    expect(actions(planSteps(t, f).steps)).toEqual(['kill']);
    expect(actions(planSteps(t, { ...f, containers: [] }).steps)).toEqual(['create']);
  });

  it('a service added is created; a service removed is killed under the lock', () => {
    const web = service('web', { image: 'reg/web:1', imageId: 103 });
    const withWeb = app('a1', 1, { uuid: 'rel1', id: 1, services: [main1, web] });
    const f = facts({ containers: [container(r1, main1)], images: new Set(['reg/main:1', 'reg/web:1']) });
    expect(actions(planSteps(target(withWeb), f).steps)).toEqual(['create']);

    // web does not replace main, so it may start while main waits for the lock to be killed
    const withoutMain = app('a1', 1, { uuid: 'rel1', id: 1, services: [web] });
    expect(actions(planSteps(target(withoutMain), f).steps)).toEqual(['takeLock', 'kill', 'create']);
    const lockHeld = { ...f, locks: held('a1') };
    expect(actions(planSteps(target(withoutMain), lockHeld).steps)).toEqual(['kill', 'create']);
  });

  it('a duplicate left by a crash is removed, the oldest is kept', () => {
    const first = container(r1, main1, { createdAt: '2026-01-01T00:00:01Z' });
    const dup = container(r1, main1, { createdAt: '2026-01-01T00:00:02Z' });
    const plan = planSteps(
      target(r1),
      facts({ containers: [dup, first], images: new Set(['reg/main:1']), locks: held('a1') }),
    );
    expect(plan.steps).toEqual([expect.objectContaining({ action: 'kill', containerId: dup.id })]);
  });

  it('running: false creates without starting, and stops one that runs', () => {
    const stopped = { ...main1, running: false };
    const t = target(app('a1', 1, { uuid: 'rel1', id: 1, services: [stopped] }));
    const a = t.apps.a1!;
    const images = new Set(['reg/main:1']);
    expect(actions(planSteps(t, facts({ images })).steps)).toEqual(['create']);
    expect(
      actions(
        planSteps(t, facts({ images, containers: [container(a, stopped, { status: 'created' })] })).steps,
      ),
    ).toEqual([]);
    const running = facts({ images, containers: [container(a, stopped)], locks: held('a1') });
    expect(actions(planSteps(t, running).steps)).toEqual(['stop']);
  });

  it('depends_on: starts a service only after what it depends on runs', () => {
    const db = service('db', { image: 'reg/db:1', imageId: 104 });
    const api = service('api', {
      image: 'reg/api:1',
      imageId: 105,
      composition: { dependsOn: ['db'] } as never,
    });
    const a = app('a1', 1, { uuid: 'rel1', id: 1, services: [db, api] });
    const images = new Set(['reg/db:1', 'reg/api:1']);
    const bothCreated = [container(a, db, { status: 'created' }), container(a, api, { status: 'created' })];
    const plan = planSteps(target(a), facts({ images, containers: bothCreated }));
    expect(plan.steps.map((s) => `${s.action}:${'serviceName' in s ? s.serviceName : ''}`)).toEqual([
      'start:db',
      'wait:api',
    ]);
    const dbRunning = [container(a, db), container(a, api, { status: 'created' })];
    expect(planSteps(target(a), facts({ images, containers: dbRunning })).steps).toEqual([
      expect.objectContaining({ action: 'start', serviceName: 'api' }),
    ]);
  });

  it('creates declared volumes before the containers that use them', () => {
    const withVolume = app('a1', 1, { uuid: 'rel1', id: 1, services: [main1], volumes: ['cache'] });
    const plan = planSteps(target(withVolume), facts({ images: new Set(['reg/main:1']) }));
    expect(plan.steps).toEqual([
      { action: 'createVolume', appUuid: 'a1', appId: 1, volume: 'bosun_device-1_1_cache' },
    ]);
  });
});

describe('reconcile/plan: app removed', () => {
  const running = container(r1, main1);
  const appVolume = {
    name: 'bosun_device-1_1_cache',
    labels: { 'io.balena.app-uuid': 'a1', 'io.balena.app-id': '1' },
  };

  it('kills its containers under the lock, then removes its volumes and /data', () => {
    expect(actions(planSteps(target(), facts({ containers: [running] })).steps)).toEqual([
      'takeLock',
      'kill',
    ]);
    expect(actions(planSteps(target(), facts({ containers: [running], locks: held('a1') })).steps)).toEqual([
      'kill',
    ]);
    const gone = planSteps(target(), facts({ volumes: [appVolume], appDataIds: new Set([1]) }));
    expect(actions(gone.steps)).toEqual(['removeVolume', 'removeAppData']);
  });

  it.each([
    // The app is known only from what is left of it: its containers are gone already.
    ['a volume left: remove it', facts({ volumes: [appVolume] }), ['removeVolume']],
    [
      'the lock still held: release it',
      facts({ locks: held('a1'), heldLockApps: { a1: 1 } }),
      ['releaseLock'],
    ],
    [
      'a volume and the lock: the volume first, the lock once nothing is left',
      facts({ volumes: [appVolume], locks: held('a1'), heldLockApps: { a1: 1 } }),
      ['removeVolume'],
    ],
  ])('after its containers are gone, %s', (_name, f, expected) => {
    const plan = planSteps(target(), f);
    expect(actions(plan.steps)).toEqual(expected);
    expect(plan.steps.every((s) => stepApp(s) === 'a1')).toBe(true);
    expect(plan.steps.filter((s) => s.action === 'releaseLock')).toEqual(
      expected.includes('releaseLock') ? [{ action: 'releaseLock', appUuid: 'a1', appId: 1 }] : [],
    );
  });

  it('keeps /data of apps still in the target', () => {
    const plan = planSteps(
      target(r1),
      facts({ containers: [running], images: new Set(['reg/main:1']), appDataIds: new Set([1]) }),
    );
    expect(plan.steps).toEqual([]);
  });
});

describe('reconcile/plan: create starts at once when nothing is pending', () => {
  const db = service('db', { image: 'reg/db:1', imageId: 104 });
  const api = service('api', {
    image: 'reg/api:1',
    imageId: 105,
    composition: { dependsOn: ['db'] } as never,
  });
  const images = new Set(['reg/main:1', 'reg/db:1', 'reg/api:1']);
  const starts = (plan: ReturnType<typeof planSteps>) =>
    Object.fromEntries(plan.steps.flatMap((s) => (s.action === 'create' ? [[s.serviceName, s.start]] : [])));

  it.each([
    ['a running service with no dependencies', [main1], [], { main: true }],
    ['running: false', [{ ...main1, running: false }], [], { main: false }],
    ['a dependency not created yet', [db, api], [], { db: true, api: false }],
    [
      'a dependency created but not running',
      [db, api],
      [{ svc: db, status: 'created' as const }],
      { api: false },
    ],
    ['a dependency running', [db, api], [{ svc: db, status: 'running' as const }], { api: true }],
  ])('%s', (_name, services, existing, expected) => {
    const a = app('a1', 1, { uuid: 'rel1', id: 1, services });
    const containers = existing.map((e) => container(a, e.svc, { status: e.status }));
    expect(starts(planSteps(target(a), facts({ images, containers })))).toEqual(expected);
  });
});

describe('reconcile/plan: purity', () => {
  it('does not mutate its inputs and gives the same plan twice', () => {
    const f = facts({ containers: [container(r1, main1)], images: new Set(['reg/main:2']) });
    const t = target(r2);
    const before = JSON.stringify({ t, c: f.containers });
    const a = planSteps(t, f);
    const b = planSteps(t, f);
    expect(a).toEqual(b);
    expect(JSON.stringify({ t, c: f.containers })).toBe(before);
  });
});

describe('reconcile/plan: update policies (lock deadline, update window)', () => {
  const old = container(r1, main1);
  const locked = { a1: { userLocks: [userLock('a1')], agentHolds: false } };
  const ready = { containers: [old], images: new Set(['reg/main:2']), locks: locked };
  const policy = (over: { deadlinePassed?: boolean; windowClosed?: boolean }) => ({
    a1: { deadlinePassed: false, windowClosed: false, ...over },
  });

  it('before its lock deadline an update waits on the lock', () => {
    const plan = planSteps(target(r2), facts({ ...ready, policies: policy({}) }));
    expect(actions(plan.steps)).toEqual(['wait']);
    expect(plan.apps.a1?.phase).toBe('locked');
  });

  it('past its lock deadline it goes on as under an override, marked as the deadline', () => {
    const plan = planSteps(target(r2), facts({ ...ready, policies: policy({ deadlinePassed: true }) }));
    expect(plan.steps[0]).toMatchObject({ action: 'takeLock', override: true, deadline: true });
    expect(actions(plan.steps)).toEqual(['takeLock', 'kill']);
  });

  it('outside its window a running app is not interrupted: scheduled, downloads go on', () => {
    const missing = { containers: [old], images: new Set<string>() };
    const plan = planSteps(target(r2), facts({ ...missing, policies: policy({ windowClosed: true }) }));
    expect(actions(plan.steps)).toEqual(['fetch']);
    const downloaded = planSteps(
      target(r2),
      facts({ containers: [old], images: new Set(['reg/main:2']), policies: policy({ windowClosed: true }) }),
    );
    expect(downloaded.steps).toEqual([{ action: 'wait', appUuid: 'a1', reason: 'scheduled' }]);
    expect(downloaded.apps.a1?.phase).toBe('scheduled');
  });

  it('a first install does not wait for the window, and a force does not either', () => {
    const first = planSteps(
      target(r2),
      facts({ images: new Set(['reg/main:2']), policies: policy({ windowClosed: true }) }),
    );
    expect(actions(first.steps)).toEqual(['create']);
    const forced = planSteps(
      target(r2),
      facts({
        containers: [old],
        images: new Set(['reg/main:2']),
        override: { device: false, force: true },
        policies: policy({ windowClosed: true }),
      }),
    );
    expect(actions(forced.steps)).toEqual(['takeLock', 'kill']);
  });

  it('keeps the images a rollback may need out of the clean-up', () => {
    const f = facts({
      containers: [container(r2, main2)],
      images: new Set(['reg/main:2']),
      pulledImages: new Set(['reg/main:1', 'reg/old:0']),
      keepImages: new Set(['reg/main:1']),
    });
    expect(planSteps(target(r2), f).steps).toEqual([{ action: 'removeImage', image: 'reg/old:0' }]);
  });
});

describe('reconcile/plan: depends_on conditions', () => {
  const composition = (
    conditions?: Record<string, 'service_healthy' | 'service_completed_successfully'>,
  ) => ({
    restart: 'always' as const,
    networkMode: 'none' as const,
    volumes: [],
    dependsOn: ['db'],
    stopGracePeriodSec: 10,
    ...(conditions && { dependsOnConditions: conditions }),
  });
  const db = service('db', { image: 'reg/db:1', imageId: 201 });
  const appOf = (web: ReturnType<typeof service>) =>
    app('a1', 1, { uuid: 'rel1', id: 1, services: [db, web] });
  const plan = (web: ReturnType<typeof service>, dbOver: Parameters<typeof container>[2]) => {
    const a = appOf(web);
    return planSteps(
      target(a),
      facts({
        images: new Set(['reg/db:1', 'reg/web:1']),
        containers: [container(a, db, dbOver), container(a, web, { status: 'created' })],
      }),
    ).steps;
  };
  const web = (conditions?: Parameters<typeof composition>[0]) =>
    service('web', { image: 'reg/web:1', imageId: 202, composition: composition(conditions) });

  it.each([
    ['service_started (default): starts once db runs', undefined, { status: 'running' }, 'start'],
    [
      'service_healthy: waits while db is starting',
      { db: 'service_healthy' },
      { health: 'starting' },
      'wait',
    ],
    ['service_healthy: starts once db is healthy', { db: 'service_healthy' }, { health: 'healthy' }, 'start'],
    [
      'service_completed_successfully: waits while db runs',
      { db: 'service_completed_successfully' },
      { status: 'running' },
      'wait',
    ],
    [
      'service_completed_successfully: waits on a failed db',
      { db: 'service_completed_successfully' },
      { status: 'exited', exitCode: 1 },
      'wait',
    ],
    [
      'service_completed_successfully: starts once db exited 0',
      { db: 'service_completed_successfully' },
      { status: 'exited', exitCode: 0 },
      'start',
    ],
  ] as const)('%s', (_name, conditions, dbOver, expected) => {
    const steps = plan(web(conditions as never), dbOver as never).filter((s) => stepApp(s) === 'a1');
    const forWeb = steps.find((s) => ('serviceName' in s ? s.serviceName === 'web' : false));
    expect(forWeb?.action).toBe(expected);
  });
});
