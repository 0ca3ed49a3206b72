import { LABELS, type ContainerInfo, type NetworkInfo, type VolumeInfo } from '../engine/types.js';
import type { AppLockFacts } from '../locks/lock-manager.js';
import { networkPeer, startsAfter } from '../target/compose-networks.js';
import type { TargetApp, TargetService, TargetState } from '../target/types.js';
import { containerName, containerSpecFor, volumeName, type SpecContext } from './container-spec.js';
import { planAppNetworks, serviceHashes, serviceNetworkNames, serviceNetworking } from './network-plan.js';
import { intentApp, type IntentProgress, type PlannedIntent } from './intents.js';
import type { Step } from './steps.js';

/** Everything the planner knows, gathered before it runs. Plain data: no clocks, no I/O. */
export interface PlanFacts {
  now: number;
  containers: ContainerInfo[];
  /** The target's image references that are present on the engine. */
  images: ReadonlySet<string>;
  /** Image references the agent pulled itself: the only ones it may delete. */
  pulledImages: ReadonlySet<string>;
  volumes: VolumeInfo[];
  /**
   * The device's networks, and any network named as one of the target's (whoever owns it: the
   * labels say). Absent: none.
   */
  networks?: NetworkInfo[];
  /** App ids that have a /data dir on the host. */
  appDataIds: ReadonlySet<number>;
  /** Lock facts per app uuid; an app missing here has no locks. */
  locks: Readonly<Record<string, AppLockFacts>>;
  /** Device-wide override (BOSUN_OVERRIDE_LOCK or the cloud vars), and the API's per-call force. */
  override: LockOverrideFacts;
  /** `${appUuid}/${serviceName}` for which a hand-over marker exists. */
  handoverDone: ReadonlySet<string>;
  /** Containers stopped through the local API: left stopped until started again or replaced. */
  heldStopped: ReadonlySet<string>;
  /**
   * Apps whose update lock the apply loop holds now (app uuid -> app id). An app removed from the
   * target has no containers left once they are killed: without this its lock would never be
   * released. Its `locks` entry says `agentHolds`.
   */
  heldLockApps?: Readonly<Record<string, number>>;
  /** Images a rollback may need (the release before one on probation): never cleaned up. */
  keepImages?: ReadonlySet<string>;
  /** The update policies in force per app uuid (contract section 10); absent means none. */
  policies?: Readonly<Record<string, AppPolicyFacts>>;
  /** What the local API asked for and is waiting on (restart, stop, start, purge, reboot). */
  intents?: readonly PlannedIntent[];
  context: SpecContext;
}

/**
 * The overrides in force. `force` is a force sent with the device-wide API key (every app);
 * `forceApps` holds the app ids of forces sent with app-scoped keys, each of which overrides only
 * its own app's locks (contract section 8): app A's key must never remove app B's lock.
 */
export interface LockOverrideFacts {
  device: boolean;
  force: boolean;
  forceApps?: ReadonlySet<number>;
}

/** Whether an override of the device or the API covers `appId`'s locks. */
function overridesApp(override: LockOverrideFacts, appId: number): boolean {
  return override.device || override.force || (override.forceApps?.has(appId) ?? false);
}

/** What an app's update policies say now, read by the loop from its clock (the planner has none). */
export interface AppPolicyFacts {
  /** The update has waited on a user lock past the app's lock deadline: go on as under an override. */
  deadlinePassed: boolean;
  /** Outside the app's update window: nothing that interrupts a running service happens for an update. */
  windowClosed: boolean;
}

export type AppPhase = 'downloading' | 'locked' | 'scheduled' | 'applying changes' | 'done';

export interface AppPlan {
  appUuid: string;
  appId: number;
  phase: AppPhase;
  /** The user locks blocking the app, when phase is locked. */
  lockPaths: string[];
  /** Why the app's release cannot be applied as things are (shown as the app's error). */
  error?: string;
}

export interface Plan {
  steps: Step[];
  apps: Record<string, AppPlan>;
  /** Where each intent stands, by id. */
  intents: Record<number, IntentProgress>;
}

const ALIVE = new Set(['running', 'restarting', 'paused']);
const isAlive = (c: ContainerInfo) => ALIVE.has(c.status);

/**
 * The next batch of steps that takes the engine from what it runs to the target: every step in
 * the batch can run now, side by side. The loop runs them, re-reads the world and asks again,
 * until nothing but waits is left. Pure: same facts, same plan.
 */
export function planSteps(target: TargetState, facts: PlanFacts): Plan {
  const steps: Step[] = [];
  const apps: Record<string, AppPlan> = {};
  // Every app the device has anything of: in the target, or left over (containers, volumes, a lock).
  const appIds = new Map<string, number>();
  for (const [appUuid, appId] of Object.entries(facts.heldLockApps ?? {})) appIds.set(appUuid, appId);
  for (const v of facts.volumes) {
    const appUuid = v.labels['io.balena.app-uuid'];
    const appId = Number(v.labels['io.balena.app-id']);
    if (appUuid && Number.isInteger(appId)) appIds.set(appUuid, appId);
  }
  for (const n of facts.networks ?? []) {
    const appUuid = n.labels[LABELS.appUuid];
    const appId = Number(n.labels[LABELS.appId]);
    if (n.labels[LABELS.deviceUuid] === facts.context.deviceUuid && appUuid && Number.isInteger(appId)) {
      appIds.set(appUuid, appId);
    }
  }
  for (const c of facts.containers) appIds.set(c.appUuid, c.appId);
  for (const app of Object.values(target.apps)) appIds.set(app.appUuid, app.appId);
  const intents: Record<number, IntentProgress> = {};
  const hostCommands = (facts.intents ?? []).filter((i) => i.request.kind === 'hostCommand' && !i.effectDone);
  for (const appUuid of [...appIds.keys()].sort()) {
    const appPlan = planApp(appUuid, appIds.get(appUuid)!, target.apps[appUuid], facts, hostCommands);
    steps.push(...appPlan.steps);
    apps[appUuid] = appPlan.summary;
    Object.assign(intents, appPlan.intents);
  }
  steps.push(...planOrphanAppData(target, facts));
  Object.assign(intents, planHostCommands(hostCommands, appIds, apps, steps, facts));
  // Clean-up waits until nothing else is to be done, so it never slows an update down.
  if (!steps.some((s) => s.action !== 'wait')) steps.push(...planImageCleanup(target, facts));
  return { steps, apps, intents };
}

/**
 * A reboot or shutdown runs once the agent holds every app's lock (each app took it in its own
 * plan) and the app has nothing else to do; it is done once it ran and every lock is released.
 */
function planHostCommands(
  hostCommands: PlannedIntent[],
  appIds: Map<string, number>,
  apps: Record<string, AppPlan>,
  steps: Step[],
  facts: PlanFacts,
): Record<number, IntentProgress> {
  const progress: Record<number, IntentProgress> = {};
  for (const intent of facts.intents ?? []) {
    if (intent.request.kind !== 'hostCommand') continue;
    if (intent.effectDone) {
      const released = [...appIds.keys()].every((appUuid) => !facts.locks[appUuid]?.agentHolds);
      progress[intent.id] = released ? { state: 'done' } : { state: 'working' };
      continue;
    }
    const lockPaths = Object.values(apps).flatMap((a) => a.lockPaths);
    if (lockPaths.length > 0) {
      progress[intent.id] = { state: 'locked', paths: lockPaths };
      continue;
    }
    progress[intent.id] = { state: 'working' };
    const allHeld = [...appIds.keys()].every((appUuid) => facts.locks[appUuid]?.agentHolds);
    const quiet = !steps.some(
      (s) => s.action !== 'wait' && s.action !== 'fetch' && s.action !== 'removeImage',
    );
    if (allHeld && quiet && hostCommands.includes(intent)) {
      const { what, command } = intent.request;
      steps.push({ action: 'hostCommand', what, command, intentId: intent.id });
    }
  }
  return progress;
}

/**
 * Images the agent pulled that no target service and no container (of any release, running or
 * not) uses any more, planned only once nothing else is left to do, so clean-up never slows an
 * update. Only images recorded as pulled by the agent go (recorded before each pull, so a crash
 * mid-pull leaks none); images that were on the engine before bosun needed them are never its to
 * delete, and one that a container bosun does not manage still uses is kept (the engine refuses).
 * A locked app's old release still has its containers, so its images stay until the update is
 * through. delete-then-download is the exception: its kill removes the old image before the pull.
 */
function planImageCleanup(target: TargetState, facts: PlanFacts): Step[] {
  const inUse = new Set([...facts.containers.map((c) => c.image), ...(facts.keepImages ?? [])]);
  for (const app of Object.values(target.apps)) {
    for (const service of Object.values(app.release?.services ?? {})) inUse.add(service.image);
  }
  return [...facts.pulledImages]
    .filter((image) => !inUse.has(image))
    .sort()
    .map((image) => ({ action: 'removeImage', image }));
}

interface ServiceState {
  service: TargetService;
  hash: string;
  /** The container made from exactly this release and config, if any. */
  current?: ContainerInfo;
  /** Containers of this service from another release or config. */
  stale: ContainerInfo[];
}

function planApp(
  appUuid: string,
  appId: number,
  app: TargetApp | undefined,
  facts: PlanFacts,
  hostCommands: PlannedIntent[],
): { steps: Step[]; summary: AppPlan; intents: Record<number, IntentProgress> } {
  const containers = facts.containers.filter((c) => c.appUuid === appUuid);
  const release = app?.release;
  const lock = facts.locks[appUuid] ?? { userLocks: [], agentHolds: false };
  const appIntents = (facts.intents ?? []).filter((i) => intentApp(i) === appUuid);
  const policy = facts.policies?.[appUuid] ?? { deadlinePassed: false, windowClosed: false };
  const forced =
    overridesApp(facts.override, appId) ||
    Object.values(release?.services ?? {}).some((s) => s.overrideLock) ||
    [...appIntents, ...hostCommands].some((i) => i.force);
  const overridden = forced || policy.deadlinePassed;

  const networkPlan = planAppNetworks(
    appUuid,
    app,
    facts.networks ?? [],
    facts.containers,
    facts.context.deviceUuid,
  );
  if (networkPlan.conflicts.length > 0) {
    // Refused as it stands: nothing of the app is touched (its old release, if any, keeps running).
    return refusedApp(appUuid, appId, networkPlan.conflicts.join('; '), lock.agentHolds);
  }

  // Sort the app's containers into: the current one per target service, and everything stale.
  const services = new Map<string, ServiceState>();
  const hashes = release ? serviceHashes(release) : new Map<string, string>();
  for (const service of Object.values(release?.services ?? {})) {
    services.set(service.serviceName, { service, hash: hashes.get(service.serviceName)!, stale: [] });
  }
  const orphans: ContainerInfo[] = []; // containers of services no longer in the target
  for (const c of [...containers].sort(
    (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
  )) {
    const state = services.get(c.serviceName);
    const matches =
      state &&
      release &&
      c.releaseUuid === release.uuid &&
      c.configHash === state.hash &&
      c.imageId === state.service.imageId &&
      // One left without a network it joins (a crash between create and connect) is made again.
      (c.networks === undefined ||
        serviceNetworkNames(appId, state.service).every((n) => c.networks!.includes(n)));
    if (state && matches && !state.current) state.current = c;
    else if (state)
      state.stale.push(c); // includes duplicates left by a crash mid-create
    else orphans.push(c);
  }

  const steps: Step[] = [];
  const fetches: Step[] = [];
  const interrupting: Step[] = [];
  let waitingOn: Step | undefined;

  // Images. kill-then-download and delete-then-download pull only after the old container is gone.
  const missing = [...services.values()].filter((s) => !s.current && !facts.images.has(s.service.image));
  for (const s of missing) {
    const killFirst =
      s.service.strategy === 'kill-then-download' || s.service.strategy === 'delete-then-download';
    if (killFirst && s.stale.some(isAlive)) continue;
    fetches.push({ action: 'fetch', appUuid, serviceName: s.service.serviceName, image: s.service.image });
  }
  // download-then-kill (and hand-over): nothing of the app is killed before all its images are here.
  const downloadFirstPending = missing.some(
    (s) => s.service.strategy === 'download-then-kill' || s.service.strategy === 'hand-over',
  );

  // Stale and orphaned containers: remove the dead ones freely, kill the live ones under the lock.
  for (const c of orphans) {
    if (!isAlive(c)) steps.push(removeStep(c));
    else if (!downloadFirstPending) interrupting.push(killStep(c));
  }
  for (const s of services.values()) {
    const { service } = s;
    for (const c of s.stale) {
      if (!isAlive(c)) {
        steps.push(removeStep(c));
        continue;
      }
      // A hand-over needs the new container beside the old one: not possible while the network
      // they would share is to be made again (the old one holds it), so the old one just goes.
      const networksReady = serviceNetworkNames(appId, service).every((n) => networkPlan.ready.has(n));
      if (service.strategy === 'hand-over' && networksReady) {
        const handover = planHandover(appUuid, appId, s, c, facts);
        if (handover.kind === 'kill') interrupting.push(handover.step);
        else if (handover.kind === 'wait') waitingOn ??= handover.step;
        continue;
      }
      if (service.strategy === 'download-then-kill' && downloadFirstPending) continue;
      const kill = killStep(c);
      // delete-then-download frees the old image's disk before the new one is pulled.
      interrupting.push(
        service.strategy === 'delete-then-download' ? { ...kill, removeImage: c.image } : kill,
      );
    }
    // running: false means created, not started: stop one that runs.
    if (s.current && !service.running && isAlive(s.current)) {
      interrupting.push({
        action: 'stop',
        appUuid,
        serviceName: service.serviceName,
        containerId: s.current.id,
        timeoutSec: service.composition.stopGracePeriodSec,
      });
    }
  }

  // Outside its update window an app that runs keeps running: the update waits (downloads go on).
  // A first install interrupts nothing; a force, and the API's own actions, do not wait.
  const scheduled =
    policy.windowClosed &&
    interrupting.length > 0 &&
    containers.some(isAlive) &&
    !overridesApp(facts.override, appId) &&
    appIntents.length === 0 &&
    hostCommands.length === 0;
  if (scheduled) {
    interrupting.length = 0;
    waitingOn ??= { action: 'wait', appUuid, reason: 'scheduled' };
  }
  const intentSteps = planIntentSteps(appUuid, appId, appIntents, containers, facts);
  interrupting.push(...intentSteps.interrupting);
  steps.push(...intentSteps.free);
  // A reboot or shutdown waits for every app's lock: this app takes its own.
  const lockWanted = interrupting.length > 0 || (hostCommands.length > 0 && !lock.agentHolds);

  // Interrupting steps need the app's lock; a user lock without an override means wait.
  let lockPaths: string[] = [];
  if (lockWanted) {
    if (lock.agentHolds) {
      steps.push(...interrupting);
    } else if (lock.userLocks.length > 0 && !overridden) {
      lockPaths = lock.userLocks.map((l) => l.path);
      waitingOn = { action: 'wait', appUuid, reason: 'locked', paths: lockPaths };
    } else {
      steps.push({
        action: 'takeLock',
        appUuid,
        appId,
        serviceNames: [...new Set([...services.keys(), ...containers.map((c) => c.serviceName)])].sort(),
        override: overridden,
        ...(overridden && !forced && { deadline: true }),
      });
      // Planned together: the loop runs takeLock first and the interrupting steps only once it
      // holds the lock, saving a whole pass per update.
      steps.push(...interrupting);
    }
  }

  // New containers: volumes first, then create, then start in depends_on order. Not while a purge
  // is on its way: nothing may run on the /data and volumes it is about to wipe.
  if (app && release && !intentSteps.holdsCreation) {
    const allCurrent = orphans.length === 0 && [...services.values()].every((s) => s.stale.length === 0);
    const volumeSteps = planVolumes(app, facts, allCurrent);
    steps.push(...volumeSteps.steps);
    // Networks before the containers on them: a container is created once its networks are ready.
    steps.push(...networkPlan.steps);
    for (const s of services.values()) {
      const name = s.service.serviceName;
      if (s.current) {
        const start = planStart(appUuid, s, services, facts);
        if (start?.action === 'start') steps.push(start);
        else if (start) waitingOn ??= start;
        continue;
      }
      // The service's other containers go first (a dead one is removed this very pass), unless
      // the new one is to run beside the old for a hand-over.
      const handingOver = s.service.strategy === 'hand-over' && s.stale.some(isAlive);
      if (s.stale.length > 0 && !handingOver) continue;
      if (!facts.images.has(s.service.image) || volumeSteps.missing) continue;
      if (!serviceNetworkNames(app.appId, s.service).every((n) => networkPlan.ready.has(n))) continue;
      // A shared network stack must exist before the container that joins it can be created.
      const peer = networkPeer(s.service.composition);
      if (peer !== undefined && !services.get(peer)?.current) continue;
      const networking = serviceNetworking(app, release, s.service, facts.networks ?? [], (p) =>
        containerName(p, release),
      );
      const spec = containerSpecFor(app, release, s.service, s.hash, facts.context, networking);
      // Started in the same step when nothing it depends on is pending: saves a whole pass.
      const start = s.service.running && pendingDependencies(s.service, services).length === 0;
      steps.push({ action: 'create', appUuid, serviceName: name, spec, start });
    }
  } else {
    // Networks no target names any more go once nothing is attached to them.
    steps.push(...networkPlan.steps);
  }
  if (!(app && release && !intentSteps.holdsCreation) && containers.length === 0) {
    // App removed and its containers gone: its volumes and /data go too.
    for (const v of facts.volumes.filter((v) => v.labels['io.balena.app-uuid'] === appUuid)) {
      steps.push({ action: 'removeVolume', appUuid, volume: v.name });
    }
  }

  steps.push(...fetches);
  const busy = steps.length > 0 || waitingOn !== undefined || intentSteps.holdLock || hostCommands.length > 0;
  // The agent's own lock goes last; until it is gone the app is not `done` (an app that takes its
  // lock the moment it reads `done` must not meet the agent's file).
  const releasing = !busy && lock.agentHolds;
  if (releasing) steps.push({ action: 'releaseLock', appUuid, appId });
  if (waitingOn) steps.push(waitingOn);

  const phase: AppPhase = fetches.length
    ? 'downloading'
    : waitingOn?.action === 'wait' && waitingOn.reason === 'locked'
      ? 'locked'
      : waitingOn?.action === 'wait' && waitingOn.reason === 'scheduled'
        ? 'scheduled'
        : busy || releasing
          ? 'applying changes'
          : 'done';
  const intents: Record<number, IntentProgress> = {};
  for (const intent of appIntents) {
    intents[intent.id] = intentProgress(intent, containers, phase, lock.agentHolds, lockPaths);
  }
  return { steps, summary: { appUuid, appId, phase, lockPaths }, intents };
}

/**
 * An app whose release cannot run here as things are: no step of it runs (its old release keeps
 * running), it waits with the reason as its error, and looks again at the next poll.
 */
function refusedApp(
  appUuid: string,
  appId: number,
  error: string,
  agentHoldsLock: boolean,
): { steps: Step[]; summary: AppPlan; intents: Record<number, IntentProgress> } {
  const steps: Step[] = [];
  if (agentHoldsLock) steps.push({ action: 'releaseLock', appUuid, appId });
  steps.push({ action: 'wait', appUuid, reason: 'conflict', message: error });
  return { steps, summary: { appUuid, appId, phase: 'applying changes', lockPaths: [], error }, intents: {} };
}

interface IntentSteps {
  /** Steps that interrupt a service: they need the app's lock. */
  interrupting: Step[];
  /** Steps that need no lock (starting a container). */
  free: Step[];
  /** A purge has yet to wipe: create nothing for the app meanwhile. */
  holdsCreation: boolean;
  /** An intent still needs the lock held (a purge between its kills and its wipe). */
  holdLock: boolean;
}

/** The steps the API's intents for one app ask for now (contract section 8 actions). */
function planIntentSteps(
  appUuid: string,
  appId: number,
  intents: PlannedIntent[],
  containers: ContainerInfo[],
  facts: PlanFacts,
): IntentSteps {
  const out: IntentSteps = { interrupting: [], free: [], holdsCreation: false, holdLock: false };
  const byId = new Map(containers.map((c) => [c.id, c]));
  for (const intent of intents) {
    const mine = intent.containerIds.map((id) => byId.get(id)).filter((c) => c !== undefined);
    switch (intent.request.kind) {
      case 'restart':
        for (const c of mine) out.interrupting.push(killStep(c));
        break;
      case 'stop':
        for (const c of mine.filter(isAlive)) {
          // No timeout: the container's own, from its release (never the target's).
          out.interrupting.push({ action: 'stop', appUuid, serviceName: c.serviceName, containerId: c.id });
        }
        break;
      case 'start':
        for (const c of mine.filter((c) => !isAlive(c) && !facts.heldStopped.has(c.id))) {
          out.free.push({ action: 'start', appUuid, serviceName: c.serviceName, containerId: c.id });
        }
        break;
      case 'purge':
        if (intent.effectDone) break;
        out.holdsCreation = true;
        out.holdLock = true;
        for (const c of containers) out.interrupting.push(killStep(c));
        if (containers.length === 0) {
          out.interrupting.push({ action: 'wipeAppData', appUuid, appId, intentId: intent.id });
        }
        break;
      case 'hostCommand':
        break;
    }
  }
  return out;
}

/**
 * Whether an intent has done what it was asked, judged from the world: the containers it acted on
 * are gone (restart, purge), stopped (stop) or running (start); a restart or purge also waits for
 * the app to be back (done); and the agent has let go of the app's lock again.
 */
function intentProgress(
  intent: PlannedIntent,
  containers: ContainerInfo[],
  phase: AppPhase,
  agentHolds: boolean,
  lockPaths: string[],
): IntentProgress {
  if (lockPaths.length > 0) return { state: 'locked', paths: lockPaths };
  const mine = containers.filter((c) => intent.containerIds.includes(c.id));
  let achieved: boolean;
  switch (intent.request.kind) {
    case 'restart':
      achieved = mine.length === 0 && phase === 'done';
      break;
    case 'purge':
      achieved = intent.effectDone && mine.length === 0 && phase === 'done';
      break;
    case 'stop':
      achieved = !mine.some(isAlive);
      break;
    case 'start':
      achieved = mine.every(isAlive);
      break;
    case 'hostCommand':
      achieved = intent.effectDone;
      break;
  }
  return achieved && !agentHolds ? { state: 'done' } : { state: 'working' };
}

function removeStep(c: ContainerInfo): Step {
  return { action: 'remove', appUuid: c.appUuid, serviceName: c.serviceName, containerId: c.id };
}

/** Kill with the container's own grace period (from its release), never the new release's. */
function killStep(c: ContainerInfo): Extract<Step, { action: 'kill' }> {
  return { action: 'kill', appUuid: c.appUuid, serviceName: c.serviceName, containerId: c.id };
}

/**
 * hand-over: the new container runs beside the old one; the old is killed once the new one has
 * written its done marker or the timeout (counted from the new one's start) has passed.
 */
function planHandover(
  appUuid: string,
  appId: number,
  s: ServiceState,
  old: ContainerInfo,
  facts: PlanFacts,
): { kind: 'kill'; step: Step } | { kind: 'wait'; step: Step } | { kind: 'pending' } {
  const fresh = s.current;
  if (!fresh || fresh.status !== 'running' || !fresh.startedAt) return { kind: 'pending' };
  const elapsed = facts.now - Date.parse(fresh.startedAt);
  const done = facts.handoverDone.has(`${appUuid}/${s.service.serviceName}`);
  if (done || elapsed >= s.service.handoverTimeoutMs) {
    return {
      kind: 'kill',
      step: { ...killStep(old), clearHandover: { appId } },
    };
  }
  return {
    kind: 'wait',
    step: {
      action: 'wait',
      appUuid,
      reason: 'handover',
      serviceName: s.service.serviceName,
      ms: s.service.handoverTimeoutMs - elapsed,
    },
  };
}

/**
 * Start a created container once every service it depends on runs. Only a container bosun created
 * and never started is started here: one that exited on its own is left to its restart policy
 * (`always` unless the release says otherwise), as balena does, and one stopped through the API
 * (held-stopped) stays stopped until started through the API, replaced, or the device reboots.
 */
function planStart(
  appUuid: string,
  s: ServiceState,
  services: Map<string, ServiceState>,
  facts: PlanFacts,
): Step | undefined {
  const c = s.current!;
  if (!s.service.running || c.status !== 'created' || facts.heldStopped.has(c.id)) return undefined;
  const waitingOn = pendingDependencies(s.service, services);
  if (waitingOn.length > 0) {
    return {
      action: 'wait',
      appUuid,
      reason: 'dependency',
      serviceName: s.service.serviceName,
      on: waitingOn,
    };
  }
  return { action: 'start', appUuid, serviceName: s.service.serviceName, containerId: c.id };
}

/**
 * The services `service` starts after (depends_on, and the one whose network stack it shares)
 * that are not there yet as it asks: running (the default), healthy (`service_healthy`: its
 * healthcheck says so), or exited 0 (`service_completed_successfully`, a one-shot job).
 */
function pendingDependencies(service: TargetService, services: Map<string, ServiceState>): string[] {
  const conditions = service.composition.dependsOnConditions ?? {};
  return startsAfter(service.composition).filter((dep) => {
    const current = services.get(dep)?.current;
    if (!current) return true;
    switch (conditions[dep]) {
      case 'service_healthy':
        return current.health !== 'healthy';
      case 'service_completed_successfully':
        return !(current.status === 'exited' && current.exitCode === 0);
      default:
        return services.get(dep)!.service.running && current.status !== 'running';
    }
  });
}

/** Volumes the release declares are created; the app's others go once no stale container may use them. */
function planVolumes(
  app: TargetApp,
  facts: PlanFacts,
  noStaleContainers: boolean,
): { steps: Step[]; missing: boolean } {
  const steps: Step[] = [];
  const declared = Object.entries(app.release?.volumes ?? {});
  const wanted = new Set(declared.map(([v]) => volumeName(facts.context.deviceUuid, app.appId, v)));
  const present = new Set(facts.volumes.map((v) => v.name));
  // A volume's driver and options are fixed when it is made: a later release that changes them
  // does not recreate it, since that would throw its data away (README, "Volumes").
  for (const [volume, config] of declared) {
    const name = volumeName(facts.context.deviceUuid, app.appId, volume);
    if (present.has(name)) continue;
    const options = {
      ...(config.driver !== undefined && { driver: config.driver }),
      ...(config.driverOpts !== undefined && { driverOpts: config.driverOpts }),
    };
    steps.push({
      action: 'createVolume',
      appUuid: app.appUuid,
      appId: app.appId,
      volume: name,
      ...(Object.keys(options).length > 0 && { options }),
      ...(config.labels !== undefined && { labels: config.labels }),
    });
  }
  if (noStaleContainers) {
    for (const v of facts.volumes) {
      if (v.labels['io.balena.app-uuid'] === app.appUuid && !wanted.has(v.name)) {
        steps.push({ action: 'removeVolume', appUuid: app.appUuid, volume: v.name });
      }
    }
  }
  return { steps, missing: steps.some((s) => s.action === 'createVolume') };
}

/** /data dirs of apps that are neither in the target nor have containers left. */
function planOrphanAppData(target: TargetState, facts: PlanFacts): Step[] {
  const targetIds = new Set(Object.values(target.apps).map((a) => a.appId));
  const containerIds = new Set(facts.containers.map((c) => c.appId));
  const steps: Step[] = [];
  for (const appId of [...facts.appDataIds].sort((a, b) => a - b)) {
    if (targetIds.has(appId) || containerIds.has(appId)) continue;
    const appUuid = facts.volumes.find((v) => v.labels['io.balena.app-id'] === String(appId))?.labels[
      'io.balena.app-uuid'
    ];
    steps.push({
      action: 'removeAppData',
      appUuid: appUuid ?? String(appId),
      appId,
      override: overridesApp(facts.override, appId),
    });
  }
  return steps;
}
