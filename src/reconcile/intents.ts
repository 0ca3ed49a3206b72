import type { ContainerInfo } from '../engine/types.js';

/**
 * What the local API asks of the reconcile loop. The loop is the only code that changes
 * containers, volumes or lock files (kubelet's rule: every change to a pod, API kills included,
 * goes through the one worker), so an API action is an intent: the planner turns it into steps
 * under the same lock rules as an update, and the API waits for its outcome.
 */
export type IntentRequest =
  /** Kill the app's (or one service's) containers; the plan then creates them anew. */
  | { kind: 'restart'; appUuid: string; serviceName?: string }
  /** Stop them and keep them stopped (a held-stopped fact) until started or replaced. */
  | { kind: 'stop'; appUuid: string; serviceName?: string }
  /** Start them again; starting interrupts nothing, so it never waits for a lock. */
  | { kind: 'start'; appUuid: string; serviceName?: string }
  /** Kill every container of the app, wipe its /data and volumes, then bring it back. */
  | { kind: 'purge'; appUuid: string }
  /** Run the host's reboot or shutdown command with every app's lock held. */
  | { kind: 'hostCommand'; what: 'reboot' | 'shutdown'; command: string };

export interface IntentOptions {
  /** Override the update locks of the app(s) this intent acts on. */
  force: boolean;
  /** How long to wait for a user's lock before giving up (default 10 s). */
  lockTimeoutMs?: number;
}

/** An intent as the planner sees it: plain data. */
export interface PlannedIntent {
  id: number;
  request: IntentRequest;
  force: boolean;
  /** The containers it acts on: those of its app (and service) when the loop first saw it. */
  containerIds: string[];
  /** purge: /data and volumes wiped; hostCommand: the command ran. */
  effectDone: boolean;
}

/** Where an intent stands after a plan: still working, waiting on user locks, or done. */
export type IntentProgress = { state: 'working' } | { state: 'locked'; paths: string[] } | { state: 'done' };

/** The app an intent acts on; undefined for a host command (every app). */
export function intentApp(intent: PlannedIntent): string | undefined {
  return intent.request.kind === 'hostCommand' ? undefined : intent.request.appUuid;
}

/** The containers an intent acts on, chosen when the loop first sees it. */
export function bindContainers(request: IntentRequest, containers: ContainerInfo[]): string[] {
  if (request.kind === 'hostCommand') return [];
  const serviceName = 'serviceName' in request ? request.serviceName : undefined;
  return containers
    .filter(
      (c) => c.appUuid === request.appUuid && (serviceName === undefined || c.serviceName === serviceName),
    )
    .map((c) => c.id);
}
