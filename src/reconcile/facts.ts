import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ContainerInfo, Engine } from '../engine/types.js';
import type { AppLockFacts, LockManager, LockSubject } from '../locks/lock-manager.js';
import { handoverMarkerPaths, type LockLayout } from '../locks/paths.js';
import type { TargetApp, TargetState } from '../target/types.js';
import { ifMissing, pathExists } from '../util/fs.js';
import type { SpecContext } from './container-spec.js';
import { wantedNetworkNames } from './network-plan.js';
import type { LockOverrideFacts, PlanFacts } from './plan.js';

/** A target app as a lock subject: its id and the services of its release. */
function appLockSubject(app: TargetApp): LockSubject {
  return {
    appUuid: app.appUuid,
    appId: app.appId,
    serviceNames: Object.keys(app.release?.services ?? {}).sort(),
  };
}

/** The apps to ask about locks: every app in the target or with containers, with all their services. */
export function lockSubjects(target: TargetState | undefined, containers: ContainerInfo[]): LockSubject[] {
  const subjects = new Map<string, LockSubject>();
  for (const app of Object.values(target?.apps ?? {})) subjects.set(app.appUuid, appLockSubject(app));
  for (const c of containers) {
    const subject = subjects.get(c.appUuid) ?? { appUuid: c.appUuid, appId: c.appId, serviceNames: [] };
    if (!subject.serviceNames.includes(c.serviceName)) subject.serviceNames.push(c.serviceName);
    subjects.set(c.appUuid, subject);
  }
  for (const subject of subjects.values()) subject.serviceNames.sort();
  return [...subjects.values()];
}

export interface FactSources {
  deviceUuid: string;
  engine: Engine;
  locks: LockManager;
  layout: LockLayout;
  context: SpecContext;
  now: number;
  override: LockOverrideFacts;
  heldStopped: ReadonlySet<string>;
  pulledImages: ReadonlySet<string>;
  /** Apps the loop took the lock of (app uuid -> app id), asked about even once they have vanished. */
  lockedApps?: ReadonlyMap<string, number>;
}

/** Reads the world once, for one plan: engine state, lock files, markers, data dirs. */
export async function gatherFacts(target: TargetState, src: FactSources): Promise<PlanFacts> {
  const [containers, images, volumes, networks, appDataIds] = await Promise.all([
    src.engine.listContainers(src.deviceUuid),
    presentTargetImages(target, src.engine),
    src.engine.listVolumes(src.deviceUuid),
    src.engine.listNetworks(src.deviceUuid, wantedNetworkNames(Object.values(target.apps))),
    listAppDataIds(src.layout),
  ]);
  const subjects = lockSubjects(target, containers);
  for (const [appUuid, appId] of src.lockedApps ?? []) {
    if (!subjects.some((s) => s.appUuid === appUuid)) subjects.push({ appUuid, appId, serviceNames: [] });
  }
  const locks: Record<string, AppLockFacts> = {};
  const heldLockApps: Record<string, number> = {};
  for (const subject of subjects) {
    locks[subject.appUuid] = await src.locks.scan(subject);
    if (locks[subject.appUuid]!.agentHolds) heldLockApps[subject.appUuid] = subject.appId;
  }
  const handoverDone = new Set<string>();
  for (const app of Object.values(target.apps)) {
    for (const service of Object.values(app.release?.services ?? {})) {
      if (service.strategy !== 'hand-over') continue;
      for (const marker of handoverMarkerPaths(src.layout, app.appId, service.serviceName)) {
        if (await pathExists(marker)) handoverDone.add(`${app.appUuid}/${service.serviceName}`);
      }
    }
  }
  return {
    now: src.now,
    containers,
    images,
    pulledImages: new Set(src.pulledImages),
    volumes,
    networks,
    appDataIds,
    locks,
    override: src.override,
    handoverDone,
    heldStopped: src.heldStopped,
    heldLockApps,
    context: src.context,
  };
}

/**
 * The target's images that the engine has. One inspect per image rather than a list of every
 * image: a device that ran many releases lists slowly, and an inspect also resolves a reference
 * by digest (`repo@sha256:...`), which a list of tags does not show.
 */
async function presentTargetImages(target: TargetState, engine: Engine): Promise<Set<string>> {
  const refs = new Set<string>();
  for (const app of Object.values(target.apps)) {
    for (const service of Object.values(app.release?.services ?? {})) refs.add(service.image);
  }
  const present = await Promise.all([...refs].map(async (ref) => [ref, await engine.hasImage(ref)] as const));
  return new Set(present.filter(([, has]) => has).map(([ref]) => ref));
}

async function listAppDataIds(layout: LockLayout): Promise<Set<number>> {
  const names = await ifMissing(fs.readdir(path.join(layout.dataDir, 'apps')), []);
  return new Set(names.filter((n) => /^\d+$/.test(n)).map(Number));
}
