import type { ContainerInfo } from '../engine/types.js';
import type { TargetRelease } from '../target/types.js';

/**
 * Probation and automatic rollback (contract section 10), as pure functions over one app's
 * release history. Once every service of a new release runs, the release is on probation; it
 * fails if a service exits non-zero, restarts more than twice, or is unhealthy, or a service with
 * a healthcheck is not healthy when probation ends. Then the app goes back to the release it ran
 * just before (whether or not that one had finished its own probation), and the failed release is
 * not applied again until the target names another release or a force asks for it. With no
 * earlier release the failed one is reported unhealthy and left running.
 */

export interface ReleaseRecord {
  uuid: string;
  release: TargetRelease;
}

export interface FailedRelease {
  uuid: string;
  reason: string;
  outcome: 'rolled back' | 'unhealthy';
}

/** What the agent remembers of an app's releases (persisted: a restart mid-probation goes on). */
export interface AppHistory {
  /** The release that last had every service running (the one rolled back to, after a rollback). */
  current?: ReleaseRecord;
  /** The release before `current`, kept (with its images) while `current` is on probation. */
  previous?: ReleaseRecord;
  /** `current` is on probation until then (ms). */
  probationEndsAt?: number;
  /** The release that failed probation, while the target still names it. */
  failed?: FailedRelease;
}

/** More restarts than this during probation fail the release. */
const MAX_RESTARTS = 2;

/**
 * The release to apply: the target's, unless it is the release that was rolled back from (then
 * the one rolled back to), until the target names another release or a force asks for it again.
 */
export function releaseToApply(
  history: AppHistory,
  target: TargetRelease | undefined,
): TargetRelease | undefined {
  const failed = history.failed;
  if (target && failed?.outcome === 'rolled back' && failed.uuid === target.uuid && history.current) {
    return history.current.release;
  }
  return target;
}

/** Forgets a failure the target has moved past (another release), or that a force overrides. */
export function clearedFailure(
  history: AppHistory,
  targetUuid: string | undefined,
  forced: boolean,
): AppHistory {
  if (!history.failed) return history;
  if (!forced && history.failed.uuid === targetUuid) return history;
  const { failed: _dropped, ...rest } = history;
  return rest;
}

/** Why the release on probation fails now, or undefined while it runs well. */
export function probationFailure(
  release: TargetRelease,
  containers: ContainerInfo[],
  probationOver: boolean,
): string | undefined {
  for (const service of Object.values(release.services)) {
    if (!service.running) continue;
    const c = containers.find((x) => x.releaseUuid === release.uuid && x.serviceName === service.serviceName);
    if (!c) continue;
    const name = `service ${service.serviceName}`;
    const ended = c.status === 'exited' || c.status === 'dead';
    if (ended && (c.exitCode ?? 0) !== 0) return `${name} exited with code ${c.exitCode}`;
    if ((c.restartCount ?? 0) > MAX_RESTARTS) return `${name} restarted ${c.restartCount} times`;
    if (c.health === 'unhealthy') return `${name} is unhealthy`;
    if (probationOver && service.composition.healthcheck && c.health !== 'healthy') {
      return `${name} was not healthy when probation ended (${c.health ?? 'no health status yet'})`;
    }
  }
  return undefined;
}

export interface ProbationInput {
  /** The release being applied (releaseToApply's). */
  release: TargetRelease;
  /** Every service of it runs (the plan says done). */
  applied: boolean;
  containers: ContainerInfo[];
  now: number;
  probationMs: number;
}

export type ProbationEvent = 'probation started' | 'committed' | 'rolled back' | 'unhealthy';

/** The next history after a pass, and what happened, if anything. */
export function advanceProbation(
  history: AppHistory,
  input: ProbationInput,
): { history: AppHistory; event?: ProbationEvent; reason?: string } {
  const { release, now } = input;
  if (history.current?.uuid !== release.uuid) {
    if (!input.applied) return { history };
    const started: AppHistory = {
      ...history,
      current: { uuid: release.uuid, release },
      previous: history.current,
      probationEndsAt: input.probationMs > 0 ? now + input.probationMs : undefined,
    };
    if (started.probationEndsAt === undefined) delete started.previous;
    return {
      history: started,
      event: started.probationEndsAt === undefined ? 'committed' : 'probation started',
    };
  }
  if (history.probationEndsAt === undefined) return { history };
  const over = now >= history.probationEndsAt;
  const reason = probationFailure(release, input.containers, over);
  if (reason !== undefined) {
    if (history.previous) {
      return {
        history: {
          current: history.previous,
          failed: { uuid: release.uuid, reason, outcome: 'rolled back' },
        },
        event: 'rolled back',
        reason,
      };
    }
    return {
      history: { current: history.current, failed: { uuid: release.uuid, reason, outcome: 'unhealthy' } },
      event: 'unhealthy',
      reason,
    };
  }
  if (over) return { history: { current: history.current }, event: 'committed' };
  return { history };
}
