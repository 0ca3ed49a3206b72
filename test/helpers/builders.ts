import type { ContainerInfo } from '../../src/engine/types.js';
import type { LockEntry } from '../../src/api/device-facade.js';
import type { PlanFacts } from '../../src/reconcile/plan.js';
import { serviceConfigHash } from '../../src/target/config-hash.js';
import type { Composition, TargetApp, TargetService, TargetState } from '../../src/target/types.js';

/** Small builders for planner tables: a target, its services, the containers made from them. */

export function service(serviceName: string, over: Partial<TargetService> = {}): TargetService {
  const composition: Composition = {
    restart: 'always',
    networkMode: 'none',
    volumes: [],
    dependsOn: [],
    stopGracePeriodSec: 10,
    ...(over.composition ?? {}),
  };
  return {
    serviceName,
    serviceId: 10,
    imageId: 100,
    image: `127.0.0.1:5000/${serviceName}:1`,
    environment: {},
    labels: {},
    running: true,
    strategy: 'download-then-kill',
    handoverTimeoutMs: 60_000,
    overrideLock: false,
    supervisorApi: false,
    ...over,
    composition,
  };
}

export function app(
  appUuid: string,
  appId: number,
  release?: { uuid: string; id: number; services: TargetService[]; volumes?: string[] },
): TargetApp {
  return {
    appUuid,
    appId,
    name: `app-${appId}`,
    class: 'fleet',
    release: release && {
      uuid: release.uuid,
      id: release.id,
      services: Object.fromEntries(release.services.map((s) => [s.serviceName, s])),
      volumes: Object.fromEntries((release.volumes ?? []).map((v) => [v, {}])),
      networks: {},
    },
  };
}

export function target(...apps: TargetApp[]): TargetState {
  return { uuid: 'device-1', config: {}, apps: Object.fromEntries(apps.map((a) => [a.appUuid, a])) };
}

let nextId = 0;
/** A container created from `svc` of `a`'s release (so it is current unless `over` says otherwise). */
export function container(
  a: TargetApp,
  svc: TargetService,
  over: Partial<ContainerInfo> = {},
): ContainerInfo {
  nextId += 1;
  const release = a.release!;
  return {
    id: `c${nextId}`,
    name: `${svc.serviceName}_${svc.imageId}_${release.id}_${release.uuid}`,
    image: svc.image,
    status: 'running',
    appId: a.appId,
    appUuid: a.appUuid,
    serviceName: svc.serviceName,
    serviceId: svc.serviceId,
    imageId: svc.imageId,
    releaseId: release.id,
    releaseUuid: release.uuid,
    configHash: serviceConfigHash(svc),
    labels: {},
    createdAt: `2026-01-01T00:00:${String(nextId % 60).padStart(2, '0')}Z`,
    startedAt: '2026-01-01T00:01:00Z',
    ...over,
  };
}

export function userLock(appUuid: string, path = '/tmp/balena/updates.lock'): LockEntry {
  return { appUuid, appId: 1, serviceName: 'main', path, hostPath: `/host${path}`, holder: 'app', since: '' };
}

export function facts(over: Partial<PlanFacts> = {}): PlanFacts {
  return {
    now: Date.parse('2026-01-01T00:02:00Z'),
    containers: [],
    images: new Set(),
    pulledImages: new Set(),
    volumes: [],
    appDataIds: new Set(),
    locks: {},
    override: { device: false, force: false },
    handoverDone: new Set(),
    heldStopped: new Set(),
    context: {
      deviceUuid: 'device-1',
      layout: { lockDir: '/locks', dataDir: '/data' },
      apiHost: '127.0.0.1',
      apiPort: 48484,
      appKeys: {},
    },
    ...over,
  };
}
