import type { ContainerInfo } from '../engine/types.js';
import type { TargetState } from '../target/types.js';
import type { AppPlan } from './plan.js';

/**
 * The loop's update events in words, for the device's log stream (system lines, contract
 * section 12): an update started and done, a wait on an app's lock and its end, a lock override,
 * a failed probation. The loop's own log says the same to the operator, in its own fields.
 */
export type UpdateEventSink = (message: string) => void;

const short = (releaseUuid: string) => releaseUuid.slice(0, 7);

/**
 * Says when an app starts moving to a release and when it is done: a pass that plans work for
 * an app whose containers are not (all) of the target release starts an update; the first pass
 * that finds the app done ends it. Restarts of the release already running are not updates.
 */
export class UpdateAnnouncer {
  /** Per app, the release an update was announced for and not yet done. */
  private readonly started = new Map<string, string>();

  constructor(private readonly emit: UpdateEventSink) {}

  afterPlan(target: TargetState, apps: Record<string, AppPlan>, containers: readonly ContainerInfo[]): void {
    for (const app of Object.values(target.apps)) {
      const release = app.release?.uuid;
      if (release === undefined) continue;
      const announced = this.started.get(app.appUuid);
      if (apps[app.appUuid]?.phase === 'done') {
        if (announced === release) this.emit(`Update of ${app.name} to release ${short(release)} done`);
        this.started.delete(app.appUuid);
        continue;
      }
      if (announced === release) continue;
      const own = containers.filter((c) => c.appUuid === app.appUuid);
      if (own.length === 0 || own.some((c) => c.releaseUuid !== release)) {
        this.started.set(app.appUuid, release);
        this.emit(`Updating ${app.name} to release ${short(release)}`);
      }
    }
    for (const appUuid of this.started.keys()) if (!(appUuid in target.apps)) this.started.delete(appUuid);
  }
}

export function lockWaitMessage(appName: string, paths: readonly string[]): string {
  return `Update of ${appName} waiting for the app to release its update lock (${paths.join(', ')})`;
}

export function lockWaitEndedMessage(appName: string): string {
  return `Update of ${appName} no longer waiting for a lock`;
}

export function lockOverrideMessage(appName: string, paths: readonly string[], byDeadline: boolean): string {
  const why = byDeadline ? 'the lock deadline passed' : 'an override is in force';
  return `Update locks of ${appName} removed (${why}): ${paths.join(', ')}`;
}

export function probationFailedMessage(
  appName: string,
  releaseUuid: string,
  outcome: 'rolled back' | 'unhealthy',
  reason: string | undefined,
): string {
  const because = reason ? ` (${reason})` : '';
  return outcome === 'rolled back'
    ? `Release ${short(releaseUuid)} of ${appName} failed probation${because}: rolling back to the previous release`
    : `Release ${short(releaseUuid)} of ${appName} failed probation${because}; no earlier release to return to: left running`;
}
