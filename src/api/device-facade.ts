/**
 * What the local API needs from the running agent. The agent (src/agent/start-agent.ts) implements it; the
 * API module depends on this interface only, so its tests can drive it with a small fake and the
 * real agent alike.
 */

export type { UpdateStatus } from '../cloud/report-types.js';
import type { UpdateStatus } from '../cloud/report-types.js';

export type { LockEntry } from '../locks/lock-manager.js';
import type { LockEntry } from '../locks/lock-manager.js';

export interface ServiceView {
  serviceName: string;
  serviceId: number;
  imageId: number;
  image: string;
  /** 'Running', 'Downloading', 'Downloaded', 'Installing', 'Stopped', 'exited', ... as balena names them. */
  status: string;
  containerId?: string;
  releaseUuid?: string;
  /** Numeric id of that release, when known (balena's /v2/applications/state reports it). */
  releaseId?: number;
  downloadProgress: number | null;
}

export interface AppView {
  appId: number;
  appUuid: string;
  appName: string;
  /** Release uuid the app runs now (or is converging to when nothing runs). */
  commit?: string;
  targetCommit?: string;
  updateStatus: UpdateStatus;
  /** While `scheduled`: when the update window opens (ISO 8601). */
  updateWindowOpensAt?: string;
  /** While the target release is on probation: when it ends (ISO 8601). */
  probationEndsAt?: string;
  /** Once the target release is `rolled back` or `unhealthy`: why it failed probation. */
  rollbackReason?: string;
  services: ServiceView[];
  /** Locks present now; a user lock under a lock deadline carries `deadline`. */
  locks: LockEntry[];
}

export interface DeviceView {
  uuid: string;
  name?: string;
  /** Overall: 'Idle' when converged, 'Updating' while applying, 'Locked' when waiting on a lock. */
  status: string;
  appState: 'applying' | 'applied';
  commit?: string;
  updatePending: boolean;
  updateDownloaded: boolean;
  updateFailed: boolean;
  overallDownloadProgress: number | null;
  targetError: string | null;
  /** What the accepted target asked for and does not get. */
  targetWarnings?: Array<{ path: string; message: string }>;
  apps: AppView[];
  localMode: boolean;
  version: string;
}

export interface ActionOptions {
  force: boolean;
  /** How long to wait for the app's lock before giving up with LockedError. */
  lockTimeoutMs?: number;
}

/** Who a request speaks for: the device-wide key, or one app's key (contract section 8). */
export type KeyScope = { scope: 'global' } | { scope: 'app'; appId: number };

export interface UpdateTrigger {
  force: boolean;
  cancel: boolean;
  /** Whose key sent it: an app's key forces past its own app's locks only. */
  caller: KeyScope;
}

/**
 * The actions (restart, stop, start, purge, reboot, shutdown) are carried out by the reconcile
 * loop, the only code that changes containers, volumes or lock files; each resolves once done.
 * They follow an update's lock rules: a user lock is waited for up to `lockTimeoutMs` (10 s from
 * the API), then LockedError (423) names it, unless `force` or an override is in force; start
 * interrupts nothing and never waits. An apply in flight is cancelled so an action never queues
 * behind a download (the pull resumes afterwards). restart and purge resolve once the app runs
 * again (at most 60 s). Stopped services stay stopped, across agent restarts, until started
 * through the API, replaced by a new release, or the device reboots. An unknown app or service is
 * UnknownTargetError (404).
 */
export interface DeviceFacade {
  view(): Promise<DeviceView>;
  locks(): Promise<LockEntry[]>;
  /** Trigger a poll (managed) or re-apply (local) and an apply. Returns false when ignored. */
  triggerUpdate(options: UpdateTrigger): Promise<boolean>;
  /** Resolves with whether polling and applying are healthy. */
  healthy(): Promise<{ healthy: boolean; reason?: string }>;
  restartApp(appId: number, options: ActionOptions): Promise<void>;
  purgeApp(appId: number, options: ActionOptions): Promise<void>;
  stopService(appId: number, serviceName: string | undefined, options: ActionOptions): Promise<string[]>;
  startService(appId: number, serviceName: string | undefined): Promise<string[]>;
  restartService(appId: number, serviceName: string, options: ActionOptions): Promise<void>;
  reboot(options: ActionOptions): Promise<void>;
  shutdown(options: ActionOptions): Promise<void>;
  /** Local mode only: validate and apply a target (v3 device object or v2 local shape). */
  setLocalTarget(body: unknown): Promise<void>;
  /** The target as the GET /v2/local/target-state answer's `state.local`. */
  localTarget(): Promise<unknown>;
  /** Resolve an API key to its scope: 'global', an app id, or undefined when unknown. */
  keyScope(key: string): KeyScope | undefined;
}
