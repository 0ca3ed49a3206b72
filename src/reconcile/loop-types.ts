import type { ContainerInfo, Engine, NetworkInfo } from '../engine/types.js';
import type { AppUpdatePolicy } from '../policy/update-policy.js';
import type { FailedRelease } from '../policy/probation.js';
import type { ReleaseHistory } from '../policy/release-history.js';
import type { TargetApp, TargetState } from '../target/types.js';
import type { Quarantine } from '../host/quarantine.js';
import type { LockEntry, LockManager } from '../locks/lock-manager.js';
import type { LockLayout } from '../locks/paths.js';
import type { PersistedSet } from '../store/persisted-set.js';
import type { Logger } from '../util/logger.js';
import type { SpecContext } from './container-spec.js';
import type { ExecutorDeps } from './executor.js';
import type { AppPlan } from './plan.js';
import type { UpdateEventSink } from './update-events.js';

export interface LoopDeps {
  deviceUuid: string;
  engine: Engine;
  locks: LockManager;
  layout: LockLayout;
  /** Moves app-made entries (lock trees, markers, /data) out of the app's reach before deleting. */
  quarantine?: Quarantine;
  log: Logger;
  /** Built fresh every pass: the API port and app keys can change while the agent runs. */
  specContext: () => SpecContext;
  /** Device-wide lock override now (BOSUN_OVERRIDE_LOCK, cloud config vars). */
  deviceOverride: () => boolean;
  /** Images the agent pulled (persisted): the only ones it removes once nothing uses them. */
  pulledImages: PersistedSet;
  /** Containers stopped through the API (persisted), which the loop must not start again. */
  heldStopped: PersistedSet;
  onStatus?: (status: LoopStatus) => void;
  /** Every pass's outcome, with the facts it read: metrics, health and reports need no second read. */
  onPass?: (outcome: PassOutcome) => void;
  /** The update policies of an app of the target (contract section 10); none when absent. */
  updatePolicy?: (app: TargetApp, target: TargetState) => AppUpdatePolicy;
  /** Each app's release history (probation and rollback); none: no probation. */
  releaseHistory?: ReleaseHistory;
  onInterrupt?: ExecutorDeps['onInterrupt'];
  onLockOverridden?: ExecutorDeps['onLockOverridden'];
  /**
   * Update events in words (an update started or done, a lock wait, a lock override, a failed
   * probation), for the device's log stream; see update-events.ts.
   */
  onEvent?: UpdateEventSink;
  onPullBytes?: (bytes: number) => void;
  /**
   * The device's networks as each pass read them, before any step runs: the agent listens on
   * their gateways (a container on one finds the local API there), so a listener is up before
   * the first container of a new network starts. A failure is logged; the pass goes on.
   */
  onNetworks?: (networks: NetworkInfo[]) => Promise<void>;
  /** Watch lock dirs with fs.watch (default true); the fallback poll runs either way. */
  lockWatch?: boolean;
  /** How often a pass that waits (on a lock, say) looks again without an event; default 2 s. */
  fallbackPollMs?: number;
  /** Re-check a converged device this often, to heal drift (a container removed by hand); default 30 s. */
  resyncMs?: number;
  /**
   * Backoff of a failing step, and of passes that fail before they can plan (engine unreachable):
   * capped exponential with full jitter, default 1 s to 5 min. Other steps keep going meanwhile.
   */
  backoff?: { baseMs: number; capMs: number };
  now?: () => number;
  random?: () => number;
}

export interface AppStatus extends AppPlan {
  /** Percent per service being pulled. */
  progress: Record<string, number>;
  /** The last failure of a step of this app, while it is backing off. */
  error?: string;
  /** While locked under a lock deadline: when the update goes on as under an override (ms). */
  lockDeadlineAt?: number;
  /** While scheduled: when the app's update window opens (ms). */
  windowOpensAt?: number;
  /** The release running now is on probation until then (ms). */
  probationEndsAt?: number;
  /** The target's release failed probation: rolled back from, or left running unhealthy. */
  failedRelease?: FailedRelease;
}

export interface LoopStatus {
  applying: boolean;
  converged: boolean;
  /** An API force (of the device-wide key, or of some app's key) is in effect. */
  forced: boolean;
  apps: Record<string, AppStatus>;
  /** When the pass now running started (undefined when idle). */
  passStartedAt?: number;
  lastPassAt?: number;
  lastError?: string;
  /** Since when passes have been failing before they could plan (engine unreachable); undefined while they succeed. */
  failingSince?: number;
}

/** What a pass read of the world, before it acted: enough for a state report. */
export interface PassFacts {
  containers: ContainerInfo[];
  /** Every lock present: the apps' and the agent's own. */
  locks: LockEntry[];
}

/** Why a pass that had nothing it could run now sleeps. */
export type WaitCause =
  | 'locked'
  | 'scheduled'
  | 'handover'
  | 'dependency'
  | 'conflict'
  | 'backoff'
  | 'api action'
  | 'cancelled'
  | 'recheck';

/**
 * What one pass did (design.md, example 4): converged (nothing left to do), progressed (ran steps;
 * the next pass starts at once), wait (only waits or back-offs left, for `ms`), or failed before
 * it could plan (the engine unreachable). The loop owns the timing; the agent's runtime turns
 * outcomes into metrics, health and reports.
 */
export type PassOutcome =
  | { kind: 'converged'; facts: PassFacts; apps: Record<string, AppPlan>; ms: number }
  | { kind: 'progressed'; facts: PassFacts; apps: Record<string, AppPlan>; steps: number }
  | { kind: 'wait'; facts: PassFacts; apps: Record<string, AppPlan>; ms: number; cause: WaitCause }
  | { kind: 'failed'; error: string; ms: number };

/** How long the loop sleeps after an outcome. */
export function sleepAfterOutcome(outcome: PassOutcome): number {
  return outcome.kind === 'progressed' ? 0 : outcome.ms;
}
