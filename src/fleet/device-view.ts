import type { DeviceRolloutView, DeviceView, ReleaseRef, UpdateLockView } from './api-types.js';
import { isPlainObject } from './compose-values.js';

export interface DeviceFacts {
  uuid: string;
  name: string;
  fleet: string;
  appUuid: string;
  targetRelease: ReleaseRef | null;
  pinned: boolean;
  /** The merged state report (the value under the device's uuid, contract section 5). */
  report: unknown;
  lastSeen: string | null;
  registeredAt: string;
  tags?: Record<string, string>;
  rollout?: DeviceRolloutView | null;
}

/**
 * Reads what a manager wants to see out of a device's merged report. Tolerant by design: a
 * report is whatever the device sent, so missing or odd fields read as null, never as errors.
 */
export function deviceView(facts: DeviceFacts): DeviceView {
  const report = isPlainObject(facts.report) ? facts.report : {};
  const app = isPlainObject(report.apps) ? report.apps[facts.appUuid] : undefined;
  const appReport = isPlainObject(app) ? app : {};
  const reportedRelease = stringOrNull(appReport.release_uuid);
  const release = activeReleaseReport(appReport, facts.targetRelease?.commit, reportedRelease);
  return {
    uuid: facts.uuid,
    name: facts.name,
    fleet: facts.fleet,
    targetRelease: facts.targetRelease,
    pinned: facts.pinned,
    reportedRelease,
    status: stringOrNull(report.status),
    updateStatus: stringOrNull(release.update_status),
    updateWindowOpensAt: timeOrNull(release.update_window_opens_at),
    rollbackReason: stringOrNull(release.rollback_reason),
    downloadProgress: meanProgress(release.services),
    updateLocks: Array.isArray(report.update_locks) ? report.update_locks.flatMap(lockView) : [],
    targetError: stringOrNull(report.target_error),
    lastSeen: facts.lastSeen,
    registeredAt: facts.registeredAt,
    tags: facts.tags ?? {},
    rollout: facts.rollout ?? null,
  };
}

/** The release entry being worked on: the target's if reported, else the running one's. */
function activeReleaseReport(
  appReport: Record<string, unknown>,
  targetCommit: string | undefined,
  reportedRelease: string | null,
): Record<string, unknown> {
  const releases = isPlainObject(appReport.releases) ? appReport.releases : {};
  for (const commit of [targetCommit, reportedRelease]) {
    const entry = commit === undefined || commit === null ? undefined : releases[commit];
    if (isPlainObject(entry)) return entry;
  }
  return {};
}

function meanProgress(services: unknown): number | null {
  if (!isPlainObject(services)) return null;
  const values = Object.values(services)
    .map((svc) => (isPlainObject(svc) ? svc.download_progress : undefined))
    .filter((value): value is number => typeof value === 'number' && Number.isFinite(value));
  if (values.length === 0) return null;
  return Math.round(values.reduce((sum, value) => sum + value, 0) / values.length);
}

function lockView(lock: unknown): UpdateLockView[] {
  if (typeof lock === 'string')
    return [{ appUuid: null, service: null, path: lock, since: null, deadline: null }];
  if (!isPlainObject(lock)) return [];
  const path = stringOrNull(lock.path);
  if (path === null) return [];
  return [
    {
      appUuid: stringOrNull(lock.app_uuid ?? lock.appUuid),
      service: stringOrNull(lock.service ?? lock.service_name),
      path,
      since: timeOrNull(lock.since),
      deadline: timeOrNull(lock.deadline),
    },
  ];
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** An ISO time, or epoch milliseconds as a device might send them. */
function timeOrNull(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return new Date(value).toISOString();
  return stringOrNull(value);
}
