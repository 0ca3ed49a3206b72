/**
 * The normalised target state: what the rest of bosun works with once a v3 document (contract
 * section 3) has been validated. Every optional field of the wire format has its default here.
 */

export type UpdateStrategy =
  'download-then-kill' | 'kill-then-download' | 'delete-then-download' | 'hand-over';
export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';
/**
 * `host` and `none` as Docker has them; `app`: the app's networks (the composition's `networks`,
 * else the app's `default` network), which is what no `network_mode` means; `service:<name>`:
 * the network stack of another service of the release.
 */
export type NetworkMode = 'none' | 'host' | 'app' | `service:${string}`;

/** A network a service joins (`networks` of a composition), with its extra aliases and fixed address. */
export interface ServiceNetwork {
  /** The release's name for it (not the engine's). */
  name: string;
  aliases?: string[];
  ipv4Address?: string;
}

/** One `ipam.config` entry of a release network. */
export interface IpamPool {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

/** A release-level network (`networks: { name: { driver, driver_opts, ipam, ... } }`). */
export interface NetworkConfig {
  driver: 'bridge';
  driverOpts?: Record<string, string>;
  ipam?: { driver?: string; config: IpamPool[] };
  internal?: boolean;
  enableIpv6?: boolean;
  labels?: Record<string, string>;
}

export interface Healthcheck {
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
}

/**
 * A volume mount of a service: a named volume of its release, or (no `volume`) an anonymous one
 * that lives and dies with its container, at a path in the container.
 */
export interface VolumeMount {
  volume?: string;
  target: string;
  readOnly: boolean;
}

/** A release-level volume (`volumes: { name: { driver, driver_opts, labels } }`). */
export interface VolumeConfig {
  driver?: string;
  driverOpts?: Record<string, string>;
  labels?: Record<string, string>;
}

export type PortProtocol = 'tcp' | 'udp' | 'sctp';

/**
 * One container port of `ports` (published) or `expose` (not published: no host side). Compose
 * ranges are expanded to one entry per port, so equal configurations compare equal.
 */
export interface PortMapping {
  containerPort: number;
  protocol: PortProtocol;
  /** Absent for `expose`; for `ports`, the engine picks a free host port when absent. */
  hostPort?: number;
  /** The host address to publish on; absent means every address, as Docker does. */
  hostIp?: string;
  /** False for `expose`: the port is declared but not published. */
  published: boolean;
}

/** `devices`: a host device node made available in the container. */
export interface DeviceMapping {
  pathOnHost: string;
  pathInContainer: string;
  /** Cgroup permissions, a combination of r, w and m. */
  cgroupPermissions: string;
}

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

export interface LoggingConfig {
  driver: string;
  options: Record<string, string>;
}

export interface Composition {
  command?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  restart: RestartPolicy;
  networkMode: NetworkMode;
  /**
   * With networkMode `app`: the networks joined, in order (the first is the one the container is
   * created on); `[{ name: 'default' }]` when the composition names none. Absent otherwise.
   */
  networks?: ServiceNetwork[];
  volumes: VolumeMount[];
  dependsOn: string[];
  /**
   * depends_on's long form asking for more than the dependency running (`service_started`, the
   * default, is not recorded, so releases that do not ask keep their config hash).
   */
  dependsOnConditions?: Record<string, DependencyCondition>;
  stopSignal?: string;
  /** Grace period between the stop signal and SIGKILL, in seconds. */
  stopGracePeriodSec: number;
  init?: boolean;
  tty?: boolean;
  healthcheck?: Healthcheck;
  // Every field below is absent unless the composition sets it, so a composition written before
  // these keys were supported keeps its config hash (and its container) across an agent upgrade.
  /** `ports` and `expose`, in order. */
  ports?: PortMapping[];
  privileged?: boolean;
  devices?: DeviceMapping[];
  deviceCgroupRules?: string[];
  /** Capability names as written, upper case, without a `CAP_` prefix. */
  capAdd?: string[];
  capDrop?: string[];
  securityOpt?: string[];
  sysctls?: Record<string, string>;
  ulimits?: Ulimit[];
  /** `host`, `container:<name>` or `service:<name>`, as compose writes it. */
  pid?: string;
  ipc?: string;
  groupAdd?: string[];
  /** Bytes. */
  shmSize?: number;
  readOnly?: boolean;
  /** Container path to mount options (empty string: the engine's defaults). */
  tmpfs?: Record<string, string>;
  /** Bytes. */
  memLimit?: number;
  /** Bytes. */
  memReservation?: number;
  /** Bytes of memory plus swap; -1 means unlimited swap. */
  memswapLimit?: number;
  cpuShares?: number;
  /** Microseconds of CPU time per 100 ms period. */
  cpuQuota?: number;
  /** CPUs the container may use, as `0-3` or `0,1`. */
  cpuset?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  dns?: string[];
  dnsSearch?: string[];
  dnsOpt?: string[];
  /** `host:ip` entries for /etc/hosts. */
  extraHosts?: string[];
  hostname?: string;
  domainname?: string;
  macAddress?: string;
  /** Compose-level labels; the service's own labels win on a clash. */
  labels?: Record<string, string>;
  logging?: LoggingConfig;
  stdinOpen?: boolean;
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
  volumes: Record<string, VolumeConfig>;
  /** Declared networks; `default` is added when a service joins it without declaring it. */
  networks: Record<string, NetworkConfig>;
}

export interface TargetApp {
  appUuid: string;
  appId: number;
  name: string;
  class: string;
  /** Absent when the app has no release: bosun keeps nothing running for it. */
  release?: TargetRelease;
}

/** What a service waits for of a dependency before it starts, beyond it running. */
export type DependencyCondition = 'service_healthy' | 'service_completed_successfully';

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
