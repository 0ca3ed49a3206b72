/**
 * The Engine over a real Docker engine, through dockerode. Every dockerode failure is mapped by
 * docker-errors.ts; the operations the agent repeats on every reconcile pass (start, stop, kill,
 * remove) treat "already in that state" as success so a re-run after a crash is harmless.
 */
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { silentLogger, type Logger } from '../util/logger.js';
import { BosunError } from '../util/errors.js';
import { dockerStatusOf, pullStreamError, toEngineError, toPullError } from './docker-errors.js';
import {
  dockerodeOptions,
  endpointConfigOf,
  toContainerInfo,
  toCreateOptions,
  toNetworkCreateOptions,
  toNetworkInfo,
} from './docker-mapping.js';
import { LogLineSplitter } from './log-lines.js';
import {
  AbortedError,
  EngineUnavailableError,
  ImageInUseError,
  NameConflictError,
  NotFoundError,
  PullError,
} from './errors.js';
import {
  applyPullEvent,
  initialPullState,
  pullEventError,
  summarisePull,
  type PullEvent,
} from './pull-progress.js';
import {
  LABELS,
  type ContainerInfo,
  type ContainerSpec,
  type Engine,
  type FollowLogsOptions,
  type NetworkInfo,
  type NetworkSpec,
  type PullOptions,
  type VolumeInfo,
  type VolumeOptions,
} from './types.js';

export interface DockerEngineOptions {
  /** Like DOCKER_HOST: unix:///var/run/docker.sock (the default) or tcp://host:port. */
  dockerHost?: string;
  log?: Logger;
}

const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export class DockerEngine implements Engine {
  private readonly docker: Docker;
  private readonly endpoint: string;
  private readonly log: Logger;

  constructor(options: DockerEngineOptions = {}) {
    const dockerHost = options.dockerHost ?? DEFAULT_DOCKER_HOST;
    this.docker = new Docker(dockerodeOptions(dockerHost));
    this.endpoint = `Docker engine at ${dockerHost}`;
    this.log = options.log ?? silentLogger();
  }

  private fail(err: unknown, subject: string): BosunError {
    return toEngineError(err, subject, this.endpoint);
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      const mapped = this.fail(err, 'ping');
      if (mapped instanceof EngineUnavailableError) throw mapped;
      throw new EngineUnavailableError(`${this.endpoint} answered ping with an error: ${mapped.message}`, {
        cause: err,
      });
    }
  }

  async listContainers(deviceUuid: string): Promise<ContainerInfo[]> {
    return this.listLabelled(`${LABELS.deviceUuid}=${deviceUuid}`, `containers of device ${deviceUuid}`);
  }

  async listContainersOfAllDevices(): Promise<ContainerInfo[]> {
    // A label filter without a value matches the label with any value.
    return this.listLabelled(LABELS.deviceUuid, 'containers of every device');
  }

  private async listLabelled(labelFilter: string, what: string): Promise<ContainerInfo[]> {
    let summaries: Docker.ContainerInfo[];
    try {
      summaries = await this.docker.listContainers({ all: true, filters: { label: [labelFilter] } });
    } catch (err) {
      throw this.fail(err, what);
    }
    // The list lacks StartedAt and the container's own image reference; one inspect per container,
    // in parallel, is cheap for the handful of services a device runs.
    const infos = await Promise.all(summaries.map((summary) => this.inspectIfPresent(summary.Id)));
    return infos.filter((info): info is ContainerInfo => info !== undefined);
  }

  private async inspectIfPresent(id: string): Promise<ContainerInfo | undefined> {
    let raw: Docker.ContainerInspectInfo;
    try {
      raw = await this.docker.getContainer(id).inspect();
    } catch (err) {
      // Removed between the list and the inspect: it is simply not there any more.
      if (dockerStatusOf(err) === 404) return undefined;
      throw this.fail(err, `container ${id}`);
    }
    const mapped = toContainerInfo(raw);
    if (!mapped.ok) {
      this.log.warn(
        { containerId: id, reason: mapped.reason },
        'ignoring a device-labelled container bosun did not create',
      );
      return undefined;
    }
    return mapped.info;
  }

  async inspectContainer(id: string): Promise<ContainerInfo> {
    let raw: Docker.ContainerInspectInfo;
    try {
      raw = await this.docker.getContainer(id).inspect();
    } catch (err) {
      throw this.fail(err, `container ${id}`);
    }
    const mapped = toContainerInfo(raw);
    if (!mapped.ok) throw new NotFoundError(`bosun container ${id} (${mapped.reason})`);
    return mapped.info;
  }

  async hasImage(ref: string): Promise<boolean> {
    try {
      await this.docker.getImage(ref).inspect();
      return true;
    } catch (err) {
      if (dockerStatusOf(err) === 404) return false;
      throw this.fail(err, `image ${ref}`);
    }
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<void> {
    const { signal, onProgress } = options;
    if (signal?.aborted) throw new AbortedError(`pull of ${ref} aborted`);
    let stream: NodeJS.ReadableStream;
    try {
      stream = (await this.docker.pull(ref, { abortSignal: signal })) as NodeJS.ReadableStream;
    } catch (err) {
      throw toPullError(ref, err, this.endpoint);
    }
    const complete = await this.followPull(ref, stream, options);
    // The engine ends a good pull with a 'Status: ...' line; if it ever does not, trust the image store.
    if (!complete) {
      if (!(await this.hasImage(ref))) {
        throw new PullError(ref, 'the engine closed the pull stream before the image was complete');
      }
      onProgress?.(summarisePull({ ...initialPullState(ref), finished: true }));
    }
  }

  /** Resolves true when the stream reported the image complete, false when it just ended. */
  private followPull(ref: string, stream: NodeJS.ReadableStream, options: PullOptions): Promise<boolean> {
    const { signal, onProgress } = options;
    return new Promise<boolean>((resolve, reject) => {
      let state = initialPullState(ref);
      let streamFailure: BosunError | undefined;
      let settled = false;
      const destroy = () => (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
      const settle = (outcome: { error: unknown } | { complete: boolean }) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.complete);
      };
      // Our own listener, because a stream destroyed by the signal may just 'close', which
      // followProgress reports as a clean end.
      const onAbort = () => {
        settle({ error: new AbortedError(`pull of ${ref} aborted`) });
        destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      const onEvent = (event: PullEvent) => {
        if (settled) return;
        const message = pullEventError(event);
        if (message !== undefined) {
          streamFailure ??= pullStreamError(ref, message);
          return;
        }
        const next = applyPullEvent(state, event);
        if (next === state) return;
        state = next;
        try {
          onProgress?.(summarisePull(state));
        } catch (err) {
          // A throwing callback would escape from the socket's data handler and crash the process.
          settle({ error: err });
          destroy();
        }
      };
      const onFinished = (err: Error | null) => {
        if (signal?.aborted) settle({ error: new AbortedError(`pull of ${ref} aborted`) });
        else if (err) settle({ error: toPullError(ref, err, this.endpoint) });
        else if (streamFailure) settle({ error: streamFailure });
        else settle({ complete: state.finished });
      };
      this.docker.modem.followProgress(stream, onFinished, onEvent);
    });
  }

  async removeImage(ref: string): Promise<void> {
    try {
      await this.docker.getImage(ref).remove();
    } catch (err) {
      const status = dockerStatusOf(err);
      if (status === 404) return;
      if (status === 409) throw new ImageInUseError(ref, { cause: err });
      throw this.fail(err, `image ${ref}`);
    }
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    let id: string;
    try {
      id = (await this.docker.createContainer(toCreateOptions(spec))).id;
    } catch (err) {
      const status = dockerStatusOf(err);
      if (status === 409) throw new NameConflictError(spec.name, { cause: err });
      if (status === 404)
        throw new NotFoundError(`image ${spec.image} or a network of container ${spec.name}`, { cause: err });
      throw this.fail(err, `creating container ${spec.name}`);
    }
    // The engine creates a container on one network; the others are connected before it starts.
    // A container left without one of them is removed, so the next pass creates it whole.
    const others = spec.networkMode === 'networks' ? (spec.networks ?? []).slice(1) : [];
    for (const endpoint of others) {
      try {
        await this.docker
          .getNetwork(endpoint.network)
          .connect({ Container: id, EndpointConfig: endpointConfigOf(endpoint) });
      } catch (err) {
        await this.removeContainer(id, { force: true }).catch(() => undefined);
        throw this.fail(err, `connecting container ${spec.name} to network ${endpoint.network}`);
      }
    }
    return id;
  }

  async startContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).start();
    } catch (err) {
      if (dockerStatusOf(err) === 304) return; // already running
      throw this.fail(err, `container ${id}`);
    }
  }

  async stopContainer(id: string, timeoutSec?: number): Promise<void> {
    try {
      await this.docker.getContainer(id).stop(timeoutSec === undefined ? {} : { t: timeoutSec });
    } catch (err) {
      if (dockerStatusOf(err) === 304) return; // already stopped
      throw this.fail(err, `container ${id}`);
    }
  }

  async killContainer(id: string, signal = 'SIGKILL'): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal });
    } catch (err) {
      // 409 is the engine's answer for a container that is not running; confirm by state, as
      // a kill that failed on a running container must not pass as done.
      if (dockerStatusOf(err) === 409 && !(await this.isRunning(id))) return;
      throw this.fail(err, `container ${id}`);
    }
  }

  private async isRunning(id: string): Promise<boolean> {
    try {
      const raw = await this.docker.getContainer(id).inspect();
      return raw.State.Running;
    } catch (err) {
      throw this.fail(err, `container ${id}`);
    }
  }

  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    try {
      // v: anonymous volumes die with the container; named ones (an app's /data) are untouched.
      await this.docker.getContainer(id).remove({ force: options.force ?? false, v: true });
    } catch (err) {
      if (dockerStatusOf(err) === 404) return;
      throw this.fail(err, `container ${id}`);
    }
  }

  async createVolume(
    name: string,
    labels: Record<string, string>,
    options: VolumeOptions = {},
  ): Promise<void> {
    let existingLabels: Record<string, string> | null;
    try {
      // The engine answers an existing name with the existing volume, so this is idempotent.
      const volume = await this.docker.createVolume({
        Name: name,
        Labels: labels,
        ...(options.driver !== undefined && { Driver: options.driver }),
        ...(options.driverOpts !== undefined && { DriverOpts: { ...options.driverOpts } }),
      });
      existingLabels =
        ((await volume.inspect()) as { Labels?: Record<string, string> | null }).Labels ?? null;
    } catch (err) {
      throw this.fail(err, `volume ${name}`);
    }
    // A volume of that name that is not this device's (made by hand, or by the engine for a
    // container that named it) is not ours to use: answering success would make the caller,
    // which lists volumes by device label, ask to create it again forever.
    const owner = labels[LABELS.deviceUuid];
    if (owner !== undefined && existingLabels?.[LABELS.deviceUuid] !== owner) {
      throw new NameConflictError(`volume ${name}`);
    }
  }

  async removeVolume(name: string): Promise<void> {
    try {
      await this.docker.getVolume(name).remove();
    } catch (err) {
      if (dockerStatusOf(err) === 404) return;
      throw this.fail(err, `volume ${name}`);
    }
  }

  async listVolumes(deviceUuid: string): Promise<VolumeInfo[]> {
    try {
      const answer = await this.docker.listVolumes({
        filters: { label: [`${LABELS.deviceUuid}=${deviceUuid}`] },
      });
      return (answer.Volumes ?? []).map((volume) => ({
        name: volume.Name,
        labels: { ...(volume.Labels ?? {}) },
      }));
    } catch (err) {
      throw this.fail(err, `volumes of device ${deviceUuid}`);
    }
  }

  async listNetworks(deviceUuid: string, alsoNamed: readonly string[] = []): Promise<NetworkInfo[]> {
    let raw: Docker.NetworkInspectInfo[];
    try {
      // One unfiltered list: the engine's name filter matches substrings, and a device has few.
      raw = await this.docker.listNetworks();
    } catch (err) {
      throw this.fail(err, `networks of device ${deviceUuid}`);
    }
    const named = new Set(alsoNamed);
    return raw
      .filter((n) => n.Labels?.[LABELS.deviceUuid] === deviceUuid || named.has(n.Name))
      .map(toNetworkInfo);
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    try {
      await this.docker.createNetwork(toNetworkCreateOptions(spec));
      return;
    } catch (err) {
      if (dockerStatusOf(err) !== 409) throw this.fail(err, `creating network ${spec.name}`);
    }
    // The name is taken: success only if it is this very network (a retry after a lost answer).
    let existing: Docker.NetworkInspectInfo;
    try {
      existing = (await this.docker.getNetwork(spec.name).inspect()) as Docker.NetworkInspectInfo;
    } catch (err) {
      throw this.fail(err, `network ${spec.name}`);
    }
    const labels = existing.Labels ?? {};
    const same = Object.entries(spec.labels).every(([key, value]) => labels[key] === value);
    if (!same) throw new NameConflictError(`network ${spec.name}`);
  }

  async removeNetwork(name: string): Promise<void> {
    try {
      await this.docker.getNetwork(name).remove();
    } catch (err) {
      if (dockerStatusOf(err) === 404) return;
      throw this.fail(err, `network ${name}`);
    }
  }

  async followLogs(id: string, options: FollowLogsOptions): Promise<void> {
    const { signal } = options;
    if (signal.aborted) return;
    const container = this.docker.getContainer(id);
    let tty: boolean;
    let stream: NodeJS.ReadableStream;
    try {
      // A TTY container's log is one raw stream; any other is multiplexed (stdout and stderr).
      tty = (await container.inspect()).Config.Tty;
      stream = (await container.logs({
        follow: true,
        stdout: true,
        stderr: true,
        timestamps: true,
        since: options.since ?? 0,
        abortSignal: signal,
      })) as unknown as NodeJS.ReadableStream;
    } catch (err) {
      if (signal.aborted || dockerStatusOf(err) === 404) return; // stopped following, or gone
      throw this.fail(err, `logs of container ${id}`);
    }
    return this.readLogStream(id, stream, tty, options);
  }

  /** Feeds the stream to one splitter per output until it ends, fails or the signal aborts. */
  private readLogStream(
    id: string,
    stream: NodeJS.ReadableStream,
    tty: boolean,
    { onLine, signal }: FollowLogsOptions,
  ): Promise<void> {
    const stdout = new LogLineSplitter(false, onLine);
    const stderr = new LogLineSplitter(true, onLine);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        stdout.end();
        stderr.end();
        if (err !== undefined && !signal.aborted) reject(this.fail(err, `logs of container ${id}`));
        else resolve();
      };
      const onAbort = () => {
        settle();
        (stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const sink = (splitter: LogLineSplitter) =>
        new Writable({
          write(chunk: Buffer, _encoding, done) {
            splitter.push(chunk);
            done();
          },
        });
      if (tty) stream.on('data', (chunk: Buffer) => stdout.push(chunk));
      else this.docker.modem.demuxStream(stream, sink(stdout), sink(stderr));
      stream.on('end', () => settle());
      stream.on('close', () => settle());
      stream.on('error', (err: unknown) => settle(err));
    });
  }
}
