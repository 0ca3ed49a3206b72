import { windowState, type AppUpdatePolicy } from '../policy/update-policy.js';
import type { TargetState } from '../target/types.js';
import type { AppPolicyFacts, Plan } from './plan.js';

/** Each app's update policy (contract section 10) for one pass, by app uuid; none without policies. */
export type PassPolicies = ReadonlyMap<string, AppUpdatePolicy>;

/** When an app's lock deadline passes and its update window opens (ms), for timers and reports. */
export interface PolicyTimers {
  deadlineAt?: number;
  opensAt?: number;
}

/**
 * The clock side of the lock deadline and the update window (contract section 10): what they say
 * now, as booleans for the pure planner, and when they next change, for the loop's timer.
 */
export class UpdatePolicyClock {
  /** Since when each app's update has waited on a user lock (an agent restart starts it again). */
  private readonly lockWaitSince = new Map<string, number>();

  /**
   * What each app's update policies say now: the lock deadline counts from the moment the update
   * first had to wait on the lock (the loop's memory: an agent restart starts it again), and the
   * window is read from the clock. The planner gets booleans; the timers wake the loop.
   */
  facts(
    target: TargetState,
    policies: PassPolicies,
    now: number,
  ): { facts: Record<string, AppPolicyFacts>; timers: Record<string, PolicyTimers> } {
    const facts: Record<string, AppPolicyFacts> = {};
    const timers: Record<string, PolicyTimers> = {};
    for (const app of Object.values(target.apps)) {
      const policy = policies.get(app.appUuid);
      if (!policy) continue;
      const since = this.lockWaitSince.get(app.appUuid);
      const deadlineAt =
        policy.lockDeadlineMs !== undefined ? (since ?? now) + policy.lockDeadlineMs : undefined;
      const window = windowState(policy.windows, now);
      facts[app.appUuid] = {
        deadlinePassed: since !== undefined && deadlineAt !== undefined && now >= deadlineAt,
        windowClosed: !window.open,
      };
      timers[app.appUuid] = { deadlineAt, opensAt: window.opensAt };
    }
    return { facts, timers };
  }

  /** Remembers since when each app's update has waited on a user lock. */
  trackLockWaits(plan: Plan, now: number): void {
    for (const appUuid of [...this.lockWaitSince.keys()]) {
      if (plan.apps[appUuid]?.phase !== 'locked') this.lockWaitSince.delete(appUuid);
    }
    for (const [appUuid, app] of Object.entries(plan.apps)) {
      if (app.phase === 'locked' && !this.lockWaitSince.has(appUuid)) this.lockWaitSince.set(appUuid, now);
    }
  }

  /** How soon a lock deadline passes or an update window opens, for an app waiting on it. */
  wakeMs(plan: Plan, timers: Record<string, PolicyTimers>, now: number): number {
    let ms = Infinity;
    for (const [appUuid, app] of Object.entries(plan.apps)) {
      const timer = timers[appUuid];
      const at =
        app.phase === 'locked' ? timer?.deadlineAt : app.phase === 'scheduled' ? timer?.opensAt : undefined;
      if (at !== undefined) ms = Math.min(ms, Math.max(at - now, 10));
    }
    return ms;
  }
}
