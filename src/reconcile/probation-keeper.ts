import type { ContainerInfo } from '../engine/types.js';
import { advanceProbation, clearedFailure, releaseToApply } from '../policy/probation.js';
import type { ReleaseHistory } from '../policy/release-history.js';
import type { TargetState } from '../target/types.js';
import type { Logger } from '../util/logger.js';
import type { AppStatus } from './loop-types.js';
import type { Plan } from './plan.js';
import { probationFailedMessage } from './update-events.js';
import type { PassPolicies } from './update-policy-clock.js';

/** How often a release on probation is looked at (a failure is seen within this long). */
const PROBATION_CHECK_MS = 1_000;

/**
 * Probation and rollback as the loop applies them (contract section 10): which release each app
 * is to run (a rolled-back release gives way to the one before), what each pass shows about the
 * release on probation, and which images a rollback may still need.
 */
export class ProbationKeeper {
  constructor(
    private readonly history: ReleaseHistory,
    private readonly log: Logger,
    /** A release failed probation (rolled back or left unhealthy): the system line to announce. */
    private readonly onFailed: (message: string) => void,
  ) {}

  /**
   * The target as it is to be applied: an app whose target release failed probation and was
   * rolled back runs the release it went back to, until the target names another release or a
   * force asks for the failed one again (probation.ts).
   */
  async releasesToApply(wanted: TargetState, forcedApp: (appId: number) => boolean): Promise<TargetState> {
    const history = this.history;
    await history.retain(new Set(Object.keys(wanted.apps)));
    const apps: TargetState['apps'] = {};
    for (const [appUuid, app] of Object.entries(wanted.apps)) {
      const forced = forcedApp(app.appId);
      await history.set(appUuid, clearedFailure(history.get(appUuid), app.release?.uuid, forced));
      const release = releaseToApply(history.get(appUuid), app.release);
      apps[appUuid] = release === app.release ? app : { ...app, release };
    }
    return { ...wanted, apps };
  }

  /** Starts, judges and ends each app's probation from what this pass read (probation.ts). */
  async advance(
    target: TargetState,
    plan: Plan,
    containers: ContainerInfo[],
    policies: PassPolicies,
    now: number,
  ): Promise<void> {
    const history = this.history;
    for (const app of Object.values(target.apps)) {
      if (!app.release) continue;
      const probationMs = policies.get(app.appUuid)?.probationMs ?? 0;
      const next = advanceProbation(history.get(app.appUuid), {
        release: app.release,
        applied: plan.apps[app.appUuid]?.phase === 'done',
        containers: containers.filter((c) => c.appUuid === app.appUuid),
        now,
        probationMs,
      });
      await history.set(app.appUuid, next.history);
      if (next.event === 'rolled back' || next.event === 'unhealthy') {
        this.log.warn(
          { appUuid: app.appUuid, release: app.release.uuid, reason: next.reason, outcome: next.event },
          next.event === 'rolled back'
            ? 'release failed probation: rolling the app back to its previous release'
            : 'release failed probation and there is no earlier release to return to: left running',
        );
        this.onFailed(probationFailedMessage(app.name, app.release.uuid, next.event, next.reason));
      } else if (next.event) {
        this.log.info({ appUuid: app.appUuid, release: app.release.uuid }, `release ${next.event}`);
      }
    }
  }

  /**
   * The images of the releases a rollback may return to: the last release that ran (until its
   * successor has run and passed probation), and the one before a release on probation.
   */
  imagesForRollback(): Set<string> {
    const images = new Set<string>();
    for (const history of Object.values(this.history.all())) {
      const kept = [history.current, history.probationEndsAt !== undefined ? history.previous : undefined];
      for (const record of kept) {
        for (const service of Object.values(record?.release.services ?? {})) images.add(service.image);
      }
    }
    return images;
  }

  /** While a release is on probation the loop looks at it every second, and at its end. */
  wakeMs(now: number): number {
    let ms = Infinity;
    for (const history of Object.values(this.history.all())) {
      if (history.probationEndsAt !== undefined) {
        ms = Math.min(ms, PROBATION_CHECK_MS, Math.max(history.probationEndsAt - now, 10));
      }
    }
    return ms;
  }

  status(appUuid: string): Pick<AppStatus, 'probationEndsAt' | 'failedRelease'> {
    const history = this.history.get(appUuid);
    return {
      ...(history?.probationEndsAt !== undefined && { probationEndsAt: history.probationEndsAt }),
      ...(history?.failed !== undefined && { failedRelease: history.failed }),
    };
  }
}
