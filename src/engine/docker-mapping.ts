/**
 * Pure translations between bosun's engine types and the Docker Engine API's shapes.
 */
import type Docker from 'dockerode';
import { parseDockerHost } from '../config/docker-host.js';
import { ConfigError } from '../util/errors.js';
import { parseBosunLabels, type LabelParseResult } from './container-labels.js';
import { isIP } from 'node:net';
import type {
  ContainerInfo,
  ContainerSpec,
  ContainerStatus,
  Mount,
  NetworkEndpoint,
  NetworkInfo,
  NetworkSpec,
  PortSpec,
} from './types.js';

const DEFAULT_SOCKET = '/var/run/docker.sock';

/**
 * dockerode options for a DOCKER_HOST-style endpoint. Every connection field is set, even to
 * undefined, because docker-modem merges our options over defaults it reads from the process's
 * own DOCKER_HOST, which must not win over the endpoint we were given.
 */
export function dockerodeOptions(dockerHost: string = `unix://${DEFAULT_SOCKET}`): Docker.DockerOptions {
  const parsed = parseDockerHost(dockerHost);
  if (!parsed.ok) throw new ConfigError(`DOCKER_HOST ${dockerHost}: ${parsed.reason}`);
  const { endpoint } = parsed;
  if (endpoint.kind === 'unix') {
    return { socketPath: endpoint.socketPath, host: undefined, port: undefined, protocol: undefined };
  }
  return { socketPath: undefined, host: endpoint.host, port: endpoint.port, protocol: endpoint.protocol };
}

/** The socket path of a `unix://` endpoint; undefined for TCP endpoints. */
export function unixSocketPath(dockerHost: string): string | undefined {
  if (!dockerHost.startsWith('unix://')) return undefined;
  const socketPath = dockerHost.slice('unix://'.length);
  return socketPath === '' ? undefined : socketPath;
}

const NANOS_PER_MS = 1_000_000;

/** The body of POST /containers/create for a spec. */
export function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const binds = spec.mounts.filter((mount) => mount.createHostPath === true);
  const mounts = spec.mounts.filter((mount) => mount.createHostPath !== true);
  const options: Docker.ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Labels: { ...spec.labels },
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Tty: spec.tty ?? false,
    HostConfig: {
      RestartPolicy: { Name: spec.restart === 'no' ? '' : spec.restart, MaximumRetryCount: 0 },
      NetworkMode: networkModeOf(spec),
      Init: spec.init ?? false,
      ...(spec.capDrop !== undefined && { CapDrop: [...spec.capDrop] }),
      Mounts: mounts.map(toMount),
      ...(binds.length > 0 && { Binds: binds.map(toBind) }),
      ...hostConfigOf(spec),
      ...(spec.ports?.some((p) => p.published) && { PortBindings: portBindingsOf(spec.ports) }),
    },
  };
  const first = spec.networkMode === 'networks' ? spec.networks?.[0] : undefined;
  if (first !== undefined) {
    // API 1.41 creates a container on one network; the others are connected before it starts.
    options.NetworkingConfig = { EndpointsConfig: { [first.network]: endpointConfigOf(first) } };
  }
  if (spec.ports !== undefined && spec.ports.length > 0) {
    options.ExposedPorts = Object.fromEntries(spec.ports.map((p) => [portKey(p), {}]));
  }
  if (spec.command !== undefined) options.Cmd = spec.command;
  if (spec.entrypoint !== undefined) options.Entrypoint = spec.entrypoint;
  if (spec.workingDir !== undefined) options.WorkingDir = spec.workingDir;
  if (spec.user !== undefined) options.User = spec.user;
  if (spec.stopSignal !== undefined) options.StopSignal = spec.stopSignal;
  if (spec.stopTimeoutSec !== undefined) options.StopTimeout = spec.stopTimeoutSec;
  if (spec.hostname !== undefined) options.Hostname = spec.hostname;
  if (spec.domainname !== undefined) options.Domainname = spec.domainname;
  // API 1.41 takes the MAC address in the container config (1.44 moved it to the endpoint).
  if (spec.macAddress !== undefined) (options as { MacAddress?: string }).MacAddress = spec.macAddress;
  if (spec.openStdin !== undefined) options.OpenStdin = spec.openStdin;
  if (spec.healthcheck !== undefined) {
    const { test, intervalMs, timeoutMs, retries, startPeriodMs } = spec.healthcheck;
    options.Healthcheck = {
      Test: test,
      ...(intervalMs !== undefined && { Interval: intervalMs * NANOS_PER_MS }),
      ...(timeoutMs !== undefined && { Timeout: timeoutMs * NANOS_PER_MS }),
      ...(retries !== undefined && { Retries: retries }),
      ...(startPeriodMs !== undefined && { StartPeriod: startPeriodMs * NANOS_PER_MS }),
    };
  }
  return options;
}

/** HostConfig.NetworkMode: the first network's name for a container on networks. */
function networkModeOf(spec: ContainerSpec): string {
  if (spec.networkMode !== 'networks') return spec.networkMode;
  const first = spec.networks?.[0];
  if (first === undefined) throw new ConfigError(`container ${spec.name} is to join networks but names none`);
  return first.network;
}

/** The endpoint settings of one network, for create (the first) and for connect (the others). */
export function endpointConfigOf(endpoint: NetworkEndpoint): Docker.EndpointSettings {
  return {
    ...(endpoint.aliases.length > 0 && { Aliases: [...endpoint.aliases] }),
    ...(endpoint.ipv4Address !== undefined && { IPAMConfig: { IPv4Address: endpoint.ipv4Address } }),
  };
}

/** The body of POST /networks/create for a spec: always a bridge, never a duplicate name. */
export function toNetworkCreateOptions(spec: NetworkSpec): Docker.NetworkCreateOptions {
  return {
    Name: spec.name,
    Driver: 'bridge',
    CheckDuplicate: true,
    Labels: { ...spec.labels },
    ...(spec.driverOpts !== undefined && { Options: { ...spec.driverOpts } }),
    ...(spec.internal !== undefined && { Internal: spec.internal }),
    ...(spec.enableIpv6 !== undefined && { EnableIPv6: spec.enableIpv6 }),
    ...(spec.ipam !== undefined && {
      IPAM: {
        Driver: spec.ipam.driver ?? 'default',
        Config: spec.ipam.config.map((pool) => ({
          ...(pool.subnet !== undefined && { Subnet: pool.subnet }),
          ...(pool.gateway !== undefined && { Gateway: pool.gateway }),
          ...(pool.ipRange !== undefined && { IPRange: pool.ipRange }),
        })),
      },
    }),
  };
}

/** NetworkInfo from an entry of GET /networks. */
export function toNetworkInfo(raw: Docker.NetworkInspectInfo): NetworkInfo {
  const gateway = (raw.IPAM?.Config ?? [])
    .map((pool) => pool.Gateway)
    .find((address): address is string => typeof address === 'string' && isIP(address) === 4);
  return {
    id: raw.Id,
    name: raw.Name,
    labels: { ...(raw.Labels ?? {}) },
    ...(gateway !== undefined && { gateway }),
  };
}

function toMount(mount: Mount): Docker.MountSettings {
  return {
    Type: mount.type,
    // An anonymous volume has an empty source: the engine names it, and removes it with the container.
    Source: mount.source,
    Target: mount.target,
    ReadOnly: mount.readOnly ?? false,
  };
}

function toBind(mount: Mount): string {
  return `${mount.source}:${mount.target}${mount.readOnly ? ':ro' : ''}`;
}

function portKey(port: PortSpec): string {
  return `${port.containerPort}/${port.protocol}`;
}

/**
 * PortBindings, keyed `<port>/<protocol>` (ExposedPorts has every port, published or not). Under
 * host networking the engine ignores port bindings (the service already listens on the host's
 * addresses); they are mapped anyway, as balena does, so the container says what it asked for.
 */
function portBindingsOf(ports: PortSpec[]): Record<string, Array<{ HostIp: string; HostPort: string }>> {
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const port of ports) {
    if (!port.published) continue;
    (bindings[portKey(port)] ??= []).push({
      HostIp: port.hostIp ?? '',
      // Empty: the engine picks a free port.
      HostPort: port.hostPort === undefined ? '' : String(port.hostPort),
    });
  }
  return bindings;
}

/** The HostConfig fields of the hardware, privilege and resource keys; only those the spec sets. */
function hostConfigOf(spec: ContainerSpec): Docker.HostConfig {
  const host: Docker.HostConfig & Record<string, unknown> = {};
  const set = <T>(field: string, value: T | undefined): void => {
    if (value !== undefined) host[field] = value;
  };
  set('Privileged', spec.privileged);
  set(
    'Devices',
    spec.devices?.map((d) => ({
      PathOnHost: d.pathOnHost,
      PathInContainer: d.pathInContainer,
      CgroupPermissions: d.cgroupPermissions,
    })),
  );
  set('DeviceCgroupRules', spec.deviceCgroupRules);
  if (spec.allGpus) set('DeviceRequests', [{ Driver: '', Count: -1, Capabilities: [['gpu']] }]);
  set('CapAdd', spec.capAdd);
  set('SecurityOpt', spec.securityOpt);
  set('Sysctls', spec.sysctls);
  set(
    'Ulimits',
    spec.ulimits?.map((u) => ({ Name: u.name, Soft: u.soft, Hard: u.hard })),
  );
  set('PidMode', spec.pidMode);
  set('IpcMode', spec.ipcMode);
  set('GroupAdd', spec.groupAdd);
  set('ShmSize', spec.shmSize);
  set('ReadonlyRootfs', spec.readOnlyRootfs);
  set('Tmpfs', spec.tmpfs);
  set('Memory', spec.memory);
  set('MemoryReservation', spec.memoryReservation);
  set('MemorySwap', spec.memorySwap);
  set('CpuShares', spec.cpuShares);
  set('CpuQuota', spec.cpuQuota);
  set('CpusetCpus', spec.cpusetCpus);
  set('OomKillDisable', spec.oomKillDisable);
  set('OomScoreAdj', spec.oomScoreAdj);
  set('Dns', spec.dns);
  set('DnsSearch', spec.dnsSearch);
  set('DnsOptions', spec.dnsOptions);
  set('ExtraHosts', spec.extraHosts);
  if (spec.logConfig !== undefined) {
    set('LogConfig', { Type: spec.logConfig.driver, Config: { ...spec.logConfig.options } });
  }
  return host;
}

const CONTAINER_STATUSES: readonly ContainerStatus[] = [
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
];

/** Docker reports a never-started container's StartedAt as the zero time. */
const ZERO_TIME_PREFIX = '0001-01-01';

const HEALTH_STATES = ['starting', 'healthy', 'unhealthy'] as const;

function isHealth(value: string | undefined): value is ContainerInfo['health'] & string {
  return (HEALTH_STATES as readonly (string | undefined)[]).includes(value);
}

/** The networks a container is connected to, left out for host, none and a shared stack. */
function networksOf(inspect: Docker.ContainerInspectInfo): Pick<ContainerInfo, 'networks'> {
  const names = Object.keys(inspect.NetworkSettings?.Networks ?? {}).filter(
    (name) => name !== 'host' && name !== 'none',
  );
  return names.length > 0 ? { networks: names.sort() } : {};
}

export type InspectMapping = { ok: true; info: ContainerInfo } | { ok: false; reason: string };

/** ContainerInfo from GET /containers/{id}/json; not ok when it lacks bosun's labels. */
export function toContainerInfo(inspect: Docker.ContainerInspectInfo): InspectMapping {
  const labels = { ...(inspect.Config.Labels ?? {}) };
  const parsed: LabelParseResult = parseBosunLabels(labels);
  if (!parsed.ok) return parsed;
  const status = inspect.State.Status as ContainerStatus;
  if (!CONTAINER_STATUSES.includes(status)) {
    return { ok: false, reason: `unknown container status ${inspect.State.Status}` };
  }
  const startedAt = inspect.State.StartedAt;
  const hasExited = status === 'exited' || status === 'dead';
  return {
    ok: true,
    info: {
      id: inspect.Id,
      name: inspect.Name.replace(/^\//, ''),
      image: inspect.Config.Image,
      status,
      ...parsed.identity,
      labels,
      createdAt: inspect.Created,
      ...(startedAt && !startedAt.startsWith(ZERO_TIME_PREFIX) && { startedAt }),
      ...(hasExited && { exitCode: inspect.State.ExitCode }),
      ...(inspect.RestartCount > 0 && { restartCount: inspect.RestartCount }),
      ...(isHealth(inspect.State.Health?.Status) && { health: inspect.State.Health.Status }),
      ...networksOf(inspect),
    },
  };
}
