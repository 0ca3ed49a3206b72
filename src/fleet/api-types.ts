/** JSON shapes of the fleet backend's manager API (`/v1/...`), shared by server and client. */

export interface ReleaseRef {
  id: number;
  commit: string;
}

export interface FleetSummary {
  name: string;
  appId: number;
  appUuid: string;
  targetRelease: ReleaseRef | null;
  deviceCount: number;
  createdAt: string;
}

/** Answer to fleet creation: the provisioning key is shown this once and stored only hashed. */
export interface CreatedFleet extends FleetSummary {
  provisioningKey: string;
}

export interface ReleaseSummary extends ReleaseRef {
  fleet: string;
  createdAt: string;
  services: Record<string, { id: number; imageId: number; image: string }>;
}

/**
 * One problem found in a request body or a compose file, or a warning about a release: where it
 * is and what is wrong. Release paths are as a device reports them
 * (`services.main.composition.privileged`); line and column are the compose text's, if it was text.
 */
export interface InputIssue {
  path: string;
  message: string;
  line?: number;
  col?: number;
}

/** Answer to a push: the new release, and what devices would warn about (unsupported keys). */
export interface PushedRelease extends ReleaseSummary {
  warnings: InputIssue[];
  /** The rollout that gives it to the devices (a plain push is a rollout of one wave). */
  rollout: RolloutView;
}

/**
 * How a release goes out (contract section 12), as the manager asks for it; every field is
 * optional: none at all is a plain push, one wave of every unpinned device.
 */
export interface RolloutRequest {
  /** Cumulative counts or percentages of the matching unpinned devices: `1,10%,100%`. */
  waves?: string;
  /** How long every device of a wave must stay done before the next opens (`90s`, `30m`). */
  waveWait?: string;
  /** Failed devices tolerated: a count, or a percentage of the devices in opened waves. */
  maxFailures?: string;
  /** Only devices with all these tags take part; the others keep their release. */
  only?: Record<string, string>;
}

export type RolloutStateName = 'running' | 'halted' | 'paused' | 'complete' | 'aborted' | 'superseded';

export interface WaveView {
  /** 1-based. */
  wave: number;
  /** Devices assigned to the wave when the rollout started. */
  size: number;
  /** Of those, the ones still in it (a device pinned since has left the rollout). */
  devices: number;
  done: number;
  failed: number;
  pending: number;
  /** `waiting`: not opened; `open`: opened, devices still pending; `settled`: each done or failed. */
  state: 'waiting' | 'open' | 'settled';
}

export interface RolloutFailureView {
  uuid: string;
  wave: number;
  /** The update status the device reported, and its rollback reason if it gave one. */
  reason: string;
}

export interface RolloutView {
  id: number;
  fleet: string;
  release: ReleaseRef;
  /** The fleet's target when the rollout started. */
  previousRelease: ReleaseRef | null;
  state: RolloutStateName;
  /** Why it halted (or what superseded it). */
  reason: string | null;
  /** The waves as given, e.g. `1,10%,100%`. */
  waveSpec: string;
  waveWaitMs: number;
  maxFailures: string;
  only: Record<string, string>;
  openedWaves: number;
  waves: WaveView[];
  /** The first failed devices, in wave order. */
  failures: RolloutFailureView[];
  /** When the rollout will next move without a report (a wave's wait ends), if it waits on time. */
  nextCheckAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A device's place in its fleet's current rollout. */
export interface DeviceRolloutView {
  rolloutId: number;
  /** 1-based. */
  wave: number;
  waves: number;
  opened: boolean;
  outcome: 'pending' | 'done' | 'failed';
}

/** One entry of the device's `update_locks` report: what blocks its update now. */
export interface UpdateLockView {
  appUuid: string | null;
  service: string | null;
  path: string;
  since: string | null;
  /** When a lock deadline will override it (contract section 10), if one applies. */
  deadline: string | null;
}

export interface DeviceView {
  uuid: string;
  name: string;
  fleet: string;
  /** The release the device should run: its pin, else the fleet's target. */
  targetRelease: ReleaseRef | null;
  pinned: boolean;
  /** The app's `release_uuid` from the device's last report. */
  reportedRelease: string | null;
  /** The device's own `status` field from its report. */
  status: string | null;
  /** `update_status` of the release being applied (see contract section 5). */
  updateStatus: string | null;
  /** While `scheduled`: when the device's update window opens. */
  updateWindowOpensAt: string | null;
  /** Once `rolled back` or `unhealthy`: why the release failed probation. */
  rollbackReason: string | null;
  /** Mean download progress (0-100) over the services that report one. */
  downloadProgress: number | null;
  updateLocks: UpdateLockView[];
  targetError: string | null;
  lastSeen: string | null;
  registeredAt: string;
  tags: Record<string, string>;
  /** Its wave in the fleet's current rollout; null when it has no part in it. */
  rollout: DeviceRolloutView | null;
}

export interface ConfigView {
  fleet: Record<string, string>;
  /** Present when asked for a device: its overrides, and the merged result it receives. */
  device?: Record<string, string>;
  effective?: Record<string, string>;
}

export interface RegisteredDevice {
  id: number;
  uuid: string;
  fleet: string;
}

/** Error answers: `error` is a stable code, `issues` locate bad input. */
export interface ErrorBody {
  error: string;
  message: string;
  issues?: InputIssue[];
}

/** One stored line of a device's log (contract section 12); `id` orders a device's lines. */
export interface DeviceLogEntry {
  id: number;
  /** ms since the epoch, as the device stamped it. */
  timestamp: number;
  serviceName: string | null;
  isStderr: boolean;
  isSystem: boolean;
  message: string;
}

/** `GET /v1/devices/:device/logs`: lines oldest first, and the id to follow on from. */
export interface DeviceLogPage {
  uuid: string;
  lines: DeviceLogEntry[];
  /** The last line's id (or the `after` asked with, or 0): pass it as `after` for what follows. */
  last: number;
}
