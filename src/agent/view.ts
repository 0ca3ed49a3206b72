import type { AppView, DeviceView, LockEntry, ServiceView, UpdateStatus } from '../api/device-facade.js';
import type { DeviceReport } from '../cloud/report-types.js';
import type { ContainerInfo } from '../engine/types.js';
import type { LoopStatus } from '../reconcile/reconcile-loop.js';
import type { TargetApp, TargetState, TargetWarning } from '../target/types.js';

export interface ViewInputs {
  uuid: string;
  version: string;
  localMode: boolean;
  target: TargetState | undefined;
  targetError: string | null;
  /** What the accepted target asked for and does not get. */
  targetWarnings?: TargetWarning[];
  /** Releases of a rejected document, by app uuid, when they could be read out of it. */
  rejectedReleases: Record<string, string>;
  containers: ContainerInfo[];
  locks: LockEntry[];
  loop: LoopStatus;
}

/** What the device looks like now, for the local API and the cloud report. Pure. */
export function buildDeviceView(input: ViewInputs): DeviceView {
  const apps: AppView[] = [];
  const appUuids = new Set([
    ...Object.keys(input.target?.apps ?? {}),
    ...input.containers.map((c) => c.appUuid),
  ]);
  for (const appUuid of [...appUuids].sort()) {
    apps.push(appView(appUuid, input.target?.apps[appUuid], input));
  }
  const statuses = apps.map((a) => a.updateStatus);
  // A release rolled back from (or left unhealthy) is settled: nothing more will happen to it.
  const settled = (s: UpdateStatus) => s === 'done' || s === 'rolled back' || s === 'unhealthy';
  const progress = apps.flatMap((a) => a.services.map((s) => s.downloadProgress)).filter((p) => p !== null);
  const status = statuses.includes('locked')
    ? 'Locked'
    : statuses.includes('downloading')
      ? 'Downloading'
      : !statuses.every(settled)
        ? 'Updating'
        : 'Idle';
  return {
    uuid: input.uuid,
    name: input.target?.name,
    status,
    appState: statuses.every(settled) ? 'applied' : 'applying',
    commit: apps.length === 1 ? apps[0]!.commit : apps.find((a) => a.commit)?.commit,
    updatePending: !statuses.every(settled),
    updateDownloaded: statuses.some((s) => s === 'locked' || s === 'applying changes'),
    updateFailed: statuses.some((s) => s === 'aborted' || s === 'rolled back' || s === 'unhealthy'),
    overallDownloadProgress: progress.length
      ? Math.round(progress.reduce((a, b) => a + b, 0) / progress.length)
      : null,
    targetError: input.targetError,
    targetWarnings: input.targetWarnings ?? [],
    apps,
    localMode: input.localMode,
    version: input.version,
  };
}

function appView(appUuid: string, app: TargetApp | undefined, input: ViewInputs): AppView {
  const containers = input.containers.filter((c) => c.appUuid === appUuid);
  const status = input.loop.apps[appUuid];
  const release = app?.release;
  const services: ServiceView[] = [];
  for (const service of Object.values(release?.services ?? {})) {
    const own = containers.filter((c) => c.serviceName === service.serviceName);
    const current = own.find((c) => c.releaseUuid === release!.uuid) ?? own[0];
    const progress = status?.progress[service.serviceName];
    services.push({
      serviceName: service.serviceName,
      serviceId: service.serviceId,
      imageId: service.imageId,
      image: service.image,
      status: serviceStatus(current, release!.uuid, progress),
      containerId: current?.id,
      releaseUuid: current?.releaseUuid,
      releaseId: current?.releaseId,
      downloadProgress: progress ?? null,
    });
  }
  for (const c of containers.filter((c) => !release?.services[c.serviceName])) {
    services.push({
      serviceName: c.serviceName,
      serviceId: c.serviceId,
      imageId: c.imageId,
      image: c.image,
      status: c.status === 'running' ? 'Stopping' : c.status,
      containerId: c.id,
      releaseUuid: c.releaseUuid,
      releaseId: c.releaseId,
      downloadProgress: null,
    });
  }
  const running = containers.filter((c) => c.status === 'running');
  const commit = running.find((c) => c.releaseUuid === release?.uuid)?.releaseUuid ?? running[0]?.releaseUuid;
  return {
    appId: app?.appId ?? containers[0]!.appId,
    appUuid,
    appName: app?.name ?? '',
    commit: commit ?? (status?.phase === 'done' ? release?.uuid : undefined),
    targetCommit: release?.uuid,
    ...releaseOutcome(status, release?.uuid),
    services,
    locks: withDeadline(
      input.locks.filter((l) => l.appUuid === appUuid),
      status?.lockDeadlineAt,
    ),
  };
}

/**
 * The target release's `update_status`, and what section 10 adds to it: when the update window
 * opens (scheduled), when probation ends (done), why it failed probation (rolled back, unhealthy).
 */
function releaseOutcome(
  status: LoopStatus['apps'][string] | undefined,
  targetRelease: string | undefined,
): Pick<AppView, 'updateStatus' | 'updateWindowOpensAt' | 'probationEndsAt' | 'rollbackReason'> {
  const failed = status?.failedRelease;
  if (failed && failed.uuid === targetRelease)
    return { updateStatus: failed.outcome, rollbackReason: failed.reason };
  const updateStatusNow = updateStatus(status);
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  return {
    updateStatus: updateStatusNow,
    ...(updateStatusNow === 'scheduled' && { updateWindowOpensAt: iso(status?.windowOpensAt) }),
    ...(updateStatusNow === 'done' &&
      status?.probationEndsAt !== undefined && { probationEndsAt: iso(status.probationEndsAt) }),
  };
}

/** User locks of an app waiting under a lock deadline carry when it will be forced. */
export function withDeadline(locks: LockEntry[], deadlineAt: number | undefined): LockEntry[] {
  if (deadlineAt === undefined) return locks;
  const deadline = new Date(deadlineAt).toISOString();
  return locks.map((l) => (l.holder === 'app' ? { ...l, deadline } : l));
}

/**
 * An app's `update_status`: the loop's phase (`downloading` while any image of the app is pulled,
 * `locked` while it waits on a user lock, `applying changes` while steps run, `done` when
 * converged), or `aborted` while a failed step of the app backs off (a lock wait wins).
 * `downloaded` is not reported on its own: a fully downloaded update is `locked` or `applying
 * changes`. `rejected` is the report's, for the releases of a document rejected whole.
 */
function updateStatus(status: LoopStatus['apps'][string] | undefined): UpdateStatus {
  if (!status) return 'applying changes';
  if (status.error && status.phase !== 'locked') return 'aborted';
  return status.phase;
}

/** balena's service status words, which device apps and dashboards read. */
function serviceStatus(
  c: ContainerInfo | undefined,
  targetRelease: string,
  progress: number | undefined,
): string {
  if (progress !== undefined && progress < 100 && (!c || c.releaseUuid !== targetRelease))
    return 'Downloading';
  if (!c) return progress === 100 ? 'Downloaded' : 'Waiting';
  if (c.releaseUuid !== targetRelease) return c.status === 'running' ? 'Running' : c.status;
  switch (c.status) {
    case 'running':
      return 'Running';
    case 'created':
      return 'Installed';
    case 'exited':
      return 'exited';
    default:
      return c.status;
  }
}

/** The cloud report (contract section 5) for a view. */
export function buildDeviceReport(
  view: DeviceView,
  apiPort: number,
  rejected: Record<string, string>,
): DeviceReport {
  const apps: DeviceReport['apps'] = {};
  for (const app of view.apps) {
    const releases: DeviceReport['apps'][string]['releases'] = {};
    if (app.targetCommit) {
      releases[app.targetCommit] = {
        update_status: app.updateStatus,
        ...(app.updateWindowOpensAt !== undefined && { update_window_opens_at: app.updateWindowOpensAt }),
        ...(app.probationEndsAt !== undefined && { probation_ends_at: app.probationEndsAt }),
        ...(app.rollbackReason !== undefined && { rollback_reason: app.rollbackReason }),
        services: Object.fromEntries(
          app.services.flatMap((s) => {
            const report = targetServiceReport(s, app.targetCommit!);
            return report === undefined ? [] : [[s.serviceName, report] as const];
          }),
        ),
      };
    }
    apps[app.appUuid] = { release_uuid: app.commit ?? null, releases };
  }
  for (const [appUuid, releaseUuid] of Object.entries(rejected)) {
    apps[appUuid] ??= { release_uuid: null, releases: {} };
    apps[appUuid].releases[releaseUuid] = { update_status: 'rejected', services: {} };
  }
  return {
    api_port: apiPort,
    status: view.status,
    update_locks: view.apps.flatMap((a) =>
      a.locks
        .filter((l) => l.holder === 'app')
        .map((l) => ({
          app_uuid: l.appUuid,
          service: l.serviceName ?? '',
          path: l.path,
          since: l.since,
          ...(l.deadline !== undefined && { deadline: l.deadline }),
        })),
    ),
    target_error: view.targetError,
    target_warnings: (view.targetWarnings ?? []).map(({ path, message }) => ({ path, message })),
    apps,
  };
}

/**
 * A service as the target release's report shows it, or undefined when the row is about something
 * else (a container of a service the target no longer has). A target service whose old container
 * still runs (an update held by a lock) is reported by its download: a locked device has the new
 * image already, and the fleet manager wants to see that.
 */
function targetServiceReport(
  s: ServiceView,
  targetCommit: string,
): DeviceReport['apps'][string]['releases'][string]['services'][string] | undefined {
  if (s.releaseUuid === undefined || s.releaseUuid === targetCommit) {
    return { image: s.image, status: s.status, download_progress: s.downloadProgress };
  }
  // Only target services carry a download progress; rows of leftover containers never do.
  if (s.downloadProgress === null) return undefined;
  return {
    image: s.image,
    status: s.downloadProgress >= 100 ? 'Downloaded' : 'Downloading',
    download_progress: s.downloadProgress,
  };
}
