/**
 * The state report of contract section 5: one device's value in the body of
 * `PATCH {endpoint}/device/v3/state`. Field names are the wire names (snake_case), fixed by the
 * contract.
 */

export type UpdateStatus =
  | 'downloading'
  | 'downloaded'
  | 'applying changes'
  | 'locked'
  | 'scheduled'
  | 'rejected'
  | 'aborted'
  | 'done'
  | 'rolled back'
  | 'unhealthy';

export interface ReportedService {
  image: string;
  /** The container's state as the engine says it (e.g. `Running`, `exited`, `Downloading`). */
  status: string;
  /** 0-100 while the image downloads; null when there is nothing to download. */
  download_progress: number | null;
}

export interface ReportedRelease {
  update_status: UpdateStatus;
  /** While `scheduled`: when the app's update window opens next (ISO 8601). */
  update_window_opens_at?: string;
  /** While `done` and on probation: when probation ends (ISO 8601). */
  probation_ends_at?: string;
  /** Once `rolled back` or `unhealthy`: why the release failed probation. */
  rollback_reason?: string;
  services: Record<string, ReportedService>;
}

export interface ReportedApp {
  /** The release running now, or null when none is. */
  release_uuid: string | null;
  releases: Record<string, ReportedRelease>;
}

/** One lock that blocks an update now. */
export interface ReportedUpdateLock {
  app_uuid: string;
  service: string;
  /** The lock's path as the app sees it inside its container (e.g. `/tmp/balena/updates.lock`). */
  path: string;
  /** ISO 8601 time the lock was first seen. */
  since: string;
  /** ISO 8601 time the update goes on as under an override (a lock deadline applies). */
  deadline?: string;
}

/** One thing the accepted target asked for and did not get. */
export interface ReportedWarning {
  /** Where in the target, e.g. `apps.<uuid>.releases.<commit>.services.main.composition.volumes[0]`. */
  path: string;
  message: string;
}

export interface DeviceReport {
  api_port: number;
  /** Overall agent status, e.g. `Idle`, `Downloading`, `Applying`. */
  status: string;
  update_locks: ReportedUpdateLock[];
  /** Why the last target document was rejected whole; null once one is accepted. */
  target_error: string | null;
  /** What the accepted target asked for and does not get (unsupported keys, skipped bind mounts). */
  target_warnings: ReportedWarning[];
  apps: Record<string, ReportedApp>;
}
