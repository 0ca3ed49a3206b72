/**
 * The normalised target state: what the rest of bosun works with once a v3 document (contract
 * section 3) has been validated. Every optional field of the wire format has its default here.
 */

export type UpdateStrategy =
  'download-then-kill' | 'kill-then-download' | 'delete-then-download' | 'hand-over';
export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';
export type NetworkMode = 'none' | 'host';

export interface Healthcheck {
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
}

/** A volume mount of a service: a named volume of its release, at a path in the container. */
export interface VolumeMount {
  volume: string;
  target: string;
  readOnly: boolean;
}

export interface Composition {
  command?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  restart: RestartPolicy;
  networkMode: NetworkMode;
  volumes: VolumeMount[];
  dependsOn: string[];
  stopSignal?: string;
  /** Grace period between the stop signal and SIGKILL, in seconds. */
  stopGracePeriodSec: number;
  init?: boolean;
  tty?: boolean;
  healthcheck?: Healthcheck;
}

export interface TargetService {
  serviceName: string;
  serviceId: number;
  imageId: number;
  image: string;
  environment: Record<string, string>;
  labels: Record<string, string>;
  running: boolean;
  composition: Composition;
  strategy: UpdateStrategy;
  handoverTimeoutMs: number;
  /** RESIN_OVERRIDE_LOCK / BALENA_OVERRIDE_LOCK true in this service's environment. */
  overrideLock: boolean;
  /** io.balena.features.supervisor-api=1: gets an app-scoped API key. */
  supervisorApi: boolean;
}

export interface TargetRelease {
  uuid: string;
  id: number;
  services: Record<string, TargetService>;
  volumes: Record<string, Record<string, unknown>>;
  networks: Record<string, Record<string, unknown>>;
}

export interface TargetApp {
  appUuid: string;
  appId: number;
  name: string;
  class: string;
  /** Absent when the app has no release: bosun keeps nothing running for it. */
  release?: TargetRelease;
}

export interface TargetState {
  uuid: string;
  name?: string;
  /** Cloud config vars, kept whole (unknown keys included) and read by config/cloud-config.ts. */
  config: Record<string, string>;
  apps: Record<string, TargetApp>;
}

/** What validation found that is not fatal: unsupported composition keys, unknown strategies. */
export interface TargetWarning {
  path: string;
  message: string;
}
