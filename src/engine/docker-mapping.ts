/**
 * Pure translations between bosun's engine types and the Docker Engine API's shapes.
 */
import type Docker from 'dockerode';
import { parseDockerHost } from '../config/docker-host.js';
import { ConfigError } from '../util/errors.js';
import { parseBosunLabels, type LabelParseResult } from './container-labels.js';
import type { ContainerInfo, ContainerSpec, ContainerStatus } from './types.js';

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

const NANOS_PER_MS = 1_000_000;

/** The body of POST /containers/create for a spec. */
export function toCreateOptions(spec: ContainerSpec): Docker.ContainerCreateOptions {
  const options: Docker.ContainerCreateOptions = {
    name: spec.name,
    Image: spec.image,
    Labels: { ...spec.labels },
    Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
    Tty: spec.tty ?? false,
    HostConfig: {
      RestartPolicy: { Name: spec.restart === 'no' ? '' : spec.restart, MaximumRetryCount: 0 },
      NetworkMode: spec.networkMode,
      Init: spec.init ?? false,
      ...(spec.capDrop !== undefined && { CapDrop: [...spec.capDrop] }),
      Mounts: spec.mounts.map((mount) => ({
        Type: mount.type,
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly ?? false,
      })),
    },
  };
  if (spec.command !== undefined) options.Cmd = spec.command;
  if (spec.entrypoint !== undefined) options.Entrypoint = spec.entrypoint;
  if (spec.workingDir !== undefined) options.WorkingDir = spec.workingDir;
  if (spec.user !== undefined) options.User = spec.user;
  if (spec.stopSignal !== undefined) options.StopSignal = spec.stopSignal;
  if (spec.stopTimeoutSec !== undefined) options.StopTimeout = spec.stopTimeoutSec;
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
    },
  };
}
