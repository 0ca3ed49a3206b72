/**
 * The Engine interface: everything bosun asks of a container engine. engine/docker-engine.ts implements
 * it over dockerode; engine/memory-engine.ts in memory, for the simulated fleet and unit tests.
 */

export type ContainerStatus =
  'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/** Labels bosun puts on every container it creates (contract section 6). */
export const LABELS = {
  supervised: 'io.balena.supervised',
  appId: 'io.balena.app-id',
  appUuid: 'io.balena.app-uuid',
  serviceName: 'io.balena.service-name',
  serviceId: 'io.balena.service-id',
  deviceUuid: 'io.bosun.device-uuid',
  releaseUuid: 'io.bosun.release-uuid',
  releaseId: 'io.bosun.release-id',
  imageId: 'io.bosun.image-id',
  /** Hash of the service config the container was created from: a change means recreate. */
  configHash: 'io.bosun.config-hash',
} as const;

/** A container bosun supervises, as read back from the engine. */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  status: ContainerStatus;
  appId: number;
  appUuid: string;
  serviceName: string;
  serviceId: number;
  imageId: number;
  releaseId: number;
  releaseUuid: string;
  configHash: string;
  labels: Record<string, string>;
  createdAt: string;
  /** When it last started; undefined if never started. */
  startedAt?: string;
  exitCode?: number;
  /** How often the engine restarted it (its restart policy). */
  restartCount?: number;
  /** What its healthcheck says; undefined when it has none. */
  health?: 'starting' | 'healthy' | 'unhealthy';
  /** The engine names of the networks it is connected to (none for host, none or a shared stack). */
  networks?: string[];
}

/** A container's endpoint on a network: its extra DNS names there, and a fixed address. */
export interface NetworkEndpoint {
  /** The engine's name of the network. */
  network: string;
  aliases: string[];
  ipv4Address?: string;
}

/** Everything needed to create one network (a bridge). */
export interface NetworkSpec {
  name: string;
  driverOpts?: Record<string, string>;
  ipam?: { driver?: string; config: Array<{ subnet?: string; gateway?: string; ipRange?: string }> };
  internal?: boolean;
  enableIpv6?: boolean;
  labels: Record<string, string>;
}

/** A network as read back from the engine. */
export interface NetworkInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** The first IPv4 gateway of its IPAM config: the host's address on the network. */
  gateway?: string;
}

export interface Mount {
  type: 'bind' | 'volume';
  /** Host path of a bind; name of a volume, or empty for an anonymous volume. */
  source: string;
  target: string;
  readOnly?: boolean;
  /**
   * A bind whose host path the engine creates (as a directory) when it is missing: the engine's
   * legacy `Binds`, which balena uses for feature-label mounts. The Mounts API refuses a missing
   * source, and a host without (say) /lib/modules must still run a service that asks for it.
   */
  createHostPath?: boolean;
}

/** A container port; `published` ones are bound to `hostPort` (or a free one) on `hostIp`. */
export interface PortSpec {
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostPort?: number;
  hostIp?: string;
  published: boolean;
}

export interface DeviceSpec {
  pathOnHost: string;
  pathInContainer: string;
  cgroupPermissions: string;
}

/** Everything needed to create one container. Built by a pure function from the target. */
export interface ContainerSpec {
  name: string;
  image: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  command?: string[];
  entrypoint?: string[];
  workingDir?: string;
  user?: string;
  restart: 'no' | 'always' | 'on-failure' | 'unless-stopped';
  /**
   * `networks`: created on `networks[0]` and connected to the others before it starts;
   * `container:<name>`: another container's network stack.
   */
  networkMode: 'none' | 'host' | 'networks' | `container:${string}`;
  networks?: NetworkEndpoint[];
  /** Capabilities added to Docker's default set. */
  capAdd?: string[];
  /** Capabilities taken from Docker's default set. */
  capDrop?: string[];
  mounts: Mount[];
  stopSignal?: string;
  stopTimeoutSec?: number;
  init?: boolean;
  tty?: boolean;
  openStdin?: boolean;
  ports?: PortSpec[];
  privileged?: boolean;
  devices?: DeviceSpec[];
  deviceCgroupRules?: string[];
  /** Every GPU of the host, as a device request (feature label io.balena.features.gpu). */
  allGpus?: boolean;
  securityOpt?: string[];
  sysctls?: Record<string, string>;
  ulimits?: Array<{ name: string; soft: number; hard: number }>;
  pidMode?: string;
  ipcMode?: string;
  groupAdd?: string[];
  /** Bytes, like every size here. */
  shmSize?: number;
  readOnlyRootfs?: boolean;
  /** Container path to tmpfs mount options. */
  tmpfs?: Record<string, string>;
  memory?: number;
  memoryReservation?: number;
  /** Memory plus swap; -1 is unlimited swap. */
  memorySwap?: number;
  cpuShares?: number;
  cpuQuota?: number;
  cpusetCpus?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: number;
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
  extraHosts?: string[];
  hostname?: string;
  domainname?: string;
  macAddress?: string;
  logConfig?: { driver: string; options: Record<string, string> };
  healthcheck?: {
    test: string[];
    intervalMs?: number;
    timeoutMs?: number;
    retries?: number;
    startPeriodMs?: number;
  };
}

export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
}

/** How a volume is made: its driver (the engine's default, `local`, when absent) and options. */
export interface VolumeOptions {
  driver?: string;
  driverOpts?: Record<string, string>;
}

/** Progress of one image pull: bytes are summed over layers, `layersDone` counts finished layers. */
export interface PullProgress {
  image: string;
  layersTotal: number;
  layersDone: number;
  bytesTotal: number;
  bytesDone: number;
  /** 0..100 */
  percent: number;
}

export interface PullOptions {
  signal?: AbortSignal;
  onProgress?: (progress: PullProgress) => void;
}

/** One line a container wrote, as the engine kept it. */
export interface ContainerLogLine {
  /** The line without its newline. */
  message: string;
  /** When the engine received it, in ms since the epoch. */
  timestamp: number;
  isStderr: boolean;
  /**
   * The engine's own timestamp at full precision, as `<seconds>.<9 digits>`: what `since` takes
   * to resume after this line (see engine/log-cursor.ts).
   */
  cursor: string;
}

export interface FollowLogsOptions {
  /** Only lines at or after this cursor (inclusive, as the engine's `since` is); default: all. */
  since?: string;
  onLine: (line: ContainerLogLine) => void;
  /** Stops following; the promise then resolves. */
  signal: AbortSignal;
}

export interface Engine {
  /** Resolves when the engine answers; throws EngineUnavailableError otherwise. */
  ping(): Promise<void>;
  /** Containers labelled io.bosun.device-uuid=<deviceUuid>, in any state. */
  listContainers(deviceUuid: string): Promise<ContainerInfo[]>;
  /**
   * Containers labelled io.bosun.device-uuid with any value. Only for recovering a device's lost
   * identity at start-up (agent/identity-recovery.ts): everything else works on its own device's.
   */
  listContainersOfAllDevices(): Promise<ContainerInfo[]>;
  inspectContainer(id: string): Promise<ContainerInfo>;
  /** True when the image reference is present locally. */
  hasImage(ref: string): Promise<boolean>;
  pullImage(ref: string, options?: PullOptions): Promise<void>;
  removeImage(ref: string): Promise<void>;
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Sends the stop signal, waits up to timeoutSec, then kills. Already stopped is success. */
  stopContainer(id: string, timeoutSec?: number): Promise<void>;
  killContainer(id: string, signal?: string): Promise<void>;
  /** Already gone is success. */
  removeContainer(id: string, options?: { force?: boolean }): Promise<void>;
  createVolume(name: string, labels: Record<string, string>, options?: VolumeOptions): Promise<void>;
  /** Already gone is success. */
  removeVolume(name: string): Promise<void>;
  listVolumes(deviceUuid: string): Promise<VolumeInfo[]>;
  /**
   * Networks labelled io.bosun.device-uuid=<deviceUuid>, and any network (whoever owns it) named
   * in `alsoNamed`, each with its labels: a name the device wants that another owns is a fact.
   */
  listNetworks(deviceUuid: string, alsoNamed?: readonly string[]): Promise<NetworkInfo[]>;
  /**
   * Creates a bridge. A network of that name with the same labels is success (idempotent); one
   * with other labels is a NameConflictError.
   */
  createNetwork(spec: NetworkSpec): Promise<void>;
  /** Already gone is success; one still in use is refused by the engine. */
  removeNetwork(name: string): Promise<void>;
  /**
   * Follows a container's stdout and stderr: the lines it kept from `since` on, then new ones as
   * they come. Resolves when the container stops (or is gone) or `signal` aborts; lines come in
   * the order the engine kept them, per stream.
   */
  followLogs(id: string, options: FollowLogsOptions): Promise<void>;
}
