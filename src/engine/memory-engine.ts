/**
 * An Engine held in memory, for unit tests and the simulated fleet (a thousand of these run in
 * one process, so it keeps no timers except during a pull and for a container told to exit after
 * it starts, and does no I/O). It follows the
 * docker engine's observable rules: names are unique, a container needs its image, an image in
 * use cannot be removed, start/stop/kill/remove are idempotent, nothing restarts by itself.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { parseBosunLabels } from './container-labels.js';
import { compareCursors, cursorFromMs } from './log-cursor.js';
import {
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageInUseError,
  ImageNotFoundError,
  NameConflictError,
  NotFoundError,
} from './errors.js';
import {
  LABELS,
  type ContainerInfo,
  type ContainerSpec,
  type ContainerLogLine,
  type ContainerStatus,
  type Engine,
  type FollowLogsOptions,
  type NetworkInfo,
  type NetworkSpec,
  type PullOptions,
  type PullProgress,
  type VolumeInfo,
  type VolumeOptions,
} from './types.js';

export type EngineOperation = keyof Engine;

/** A container's process ending by itself some time after it started (see exitAfterStart). */
export interface ScheduledExit {
  afterMs: number;
  exitCode: number;
}

export interface MemoryEngineOptions {
  /** References that exist in the registry; default: every reference does. */
  registry?: ReadonlySet<string> | ((ref: string) => boolean);
  /** Images present before anything is pulled. */
  images?: Iterable<string>;
  /** How long a pull of an absent image takes; default 0. */
  pullDelayMs?: number;
  /** Progress events per pull (evenly spaced over pullDelayMs); default 4. */
  pullSteps?: number;
  /** Size reported for every image; default 1 MB. */
  imageSizeBytes?: number;
  /** Clock for createdAt/startedAt; default the real one. */
  now?: () => Date;
  /** Waits between pull steps; default node's timers. Replace to drive pulls by hand. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * Asked each time startContainer starts a container: when it answers, the container's process exits with
   * that code that long after the start, unless it was stopped, killed or removed first. The
   * simulated fleet's failing releases (a crash during probation); nothing real reads it.
   */
  exitAfterStart?: (container: ContainerInfo) => ScheduledExit | undefined;
}

/** Lines a container keeps, at most (the oldest go first): the engine keeps logs bounded too. */
const MAX_KEPT_LOG_LINES = 10_000;

interface LogFollower {
  onLine: (line: ContainerLogLine) => void;
  end: () => void;
}

interface StoredContainer {
  readonly id: string;
  logs: ContainerLogLine[];
  readonly followers: Set<LogFollower>;
  readonly spec: ContainerSpec;
  readonly createdAt: string;
  status: ContainerStatus;
  startedAt?: string;
  exitCode?: number;
  restartCount?: number;
  health?: ContainerInfo['health'];
  /** The exit exitAfterStart scheduled for this run of the container. */
  exitTimer?: NodeJS.Timeout;
}

/** Exit codes of a process ended by a signal: 128 + the signal's number. */
const SIGNAL_EXIT_CODES: Readonly<Record<string, number>> = {
  SIGHUP: 129,
  SIGINT: 130,
  SIGQUIT: 131,
  SIGKILL: 137,
  SIGUSR1: 138,
  SIGUSR2: 140,
  SIGTERM: 143,
};

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  sleepFor(ms, undefined, signal === undefined ? undefined : { signal });

export class MemoryEngine implements Engine {
  private readonly containers = new Map<string, StoredContainer>();
  private readonly images: Set<string>;
  private readonly volumes = new Map<string, Record<string, string>>();
  private readonly networks = new Map<string, NetworkInfo>();
  private readonly failures = new Map<EngineOperation, Error[]>();
  private readonly calls = new Map<EngineOperation, number>();
  /** Pulls asked for, by reference (including ones of images already present). */
  private readonly pulls = new Map<string, number>();
  private readonly inRegistry: (ref: string) => boolean;
  private readonly pullDelayMs: number;
  private readonly pullSteps: number;
  private readonly imageSizeBytes: number;
  private readonly now: () => Date;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly exitAfterStart: MemoryEngineOptions['exitAfterStart'];
  private available = true;
  private nextId = 1;
  /** Lines logged within one millisecond get distinct cursors, in order. */
  private lastLogMs = -1;
  private logSeqInMs = 0;

  constructor(options: MemoryEngineOptions = {}) {
    const registry = options.registry;
    this.inRegistry =
      registry === undefined
        ? () => true
        : typeof registry === 'function'
          ? registry
          : (ref) => registry.has(ref);
    this.images = new Set(options.images ?? []);
    this.pullDelayMs = options.pullDelayMs ?? 0;
    this.pullSteps = Math.max(1, options.pullSteps ?? 4);
    this.imageSizeBytes = options.imageSizeBytes ?? 1_000_000;
    this.now = options.now ?? (() => new Date());
    this.sleep = options.sleep ?? defaultSleep;
    this.exitAfterStart = options.exitAfterStart;
    if (this.pullDelayMs < 0) throw new RangeError(`pullDelayMs must be >= 0, got ${this.pullDelayMs}`);
  }

  // ---- test and simulation controls ----

  /** The next call of `op` throws `error` instead of running (queued: call again for more). */
  failNext(op: EngineOperation, error: Error): void {
    const queue = this.failures.get(op) ?? [];
    queue.push(error);
    this.failures.set(op, queue);
  }

  /** While false every operation throws EngineUnavailableError, as with a stopped daemon. */
  setAvailable(available: boolean): void {
    this.available = available;
  }

  /** How many times `op` was called (including calls that failed). */
  callCount(op: EngineOperation): number {
    return this.calls.get(op) ?? 0;
  }

  /** How many times an image was asked to be pulled (the simulated fleet: never for unopened waves). */
  pullCount(ref: string): number {
    return this.pulls.get(ref) ?? 0;
  }

  /** The container's process ends on its own (a crash, or the app exiting). */
  simulateExit(id: string, exitCode: number): void {
    const container = this.mustGet(id);
    if (container.status !== 'running') throw new EngineError(`container ${id} is not running`, 409);
    this.exited(container, exitCode);
  }

  /** The engine restarted the container after a crash (its restart policy): it runs again. */
  simulateRestart(id: string, exitCode: number): void {
    const container = this.mustGet(id);
    container.restartCount = (container.restartCount ?? 0) + 1;
    container.exitCode = exitCode;
    container.status = 'running';
    container.startedAt = this.now().toISOString();
  }

  /**
   * The container's process writes `message` on `stream`: kept as the engine keeps it, and
   * handed to every follower. Only a running container writes.
   */
  simulateLog(id: string, message: string, stream: 'stdout' | 'stderr' = 'stdout'): ContainerLogLine {
    const container = this.mustGet(id);
    if (container.status !== 'running') throw new EngineError(`container ${id} is not running`, 409);
    const ms = this.now().getTime();
    this.logSeqInMs = ms === this.lastLogMs ? this.logSeqInMs + 1 : 0;
    this.lastLogMs = ms;
    const line: ContainerLogLine = {
      message,
      timestamp: ms,
      isStderr: stream === 'stderr',
      cursor: cursorFromMs(ms, this.logSeqInMs),
    };
    container.logs.push(line);
    if (container.logs.length > MAX_KEPT_LOG_LINES) container.logs.shift();
    for (const follower of container.followers) follower.onLine(line);
    return line;
  }

  /** How many followers a container has now (tests check they all end). */
  logFollowers(id: string): number {
    return this.containers.get(id)?.followers.size ?? 0;
  }

  /** The container's process stopped writing: every follower's stream ends. */
  private endFollowers(container: StoredContainer): void {
    for (const follower of [...container.followers]) follower.end();
  }

  /** The container's process ended (on its own, stopped or killed): a scheduled exit is void. */
  private exited(container: StoredContainer, exitCode: number): void {
    clearTimeout(container.exitTimer);
    delete container.exitTimer;
    container.status = 'exited';
    container.exitCode = exitCode;
    this.endFollowers(container);
  }

  /** Arms the exit exitAfterStart asks for this start of the container, if any. */
  private scheduleExit(container: StoredContainer): void {
    if (this.exitAfterStart === undefined) return;
    const info = this.toInfo(container);
    const exit = info === undefined ? undefined : this.exitAfterStart(info);
    if (exit === undefined) return;
    container.exitTimer = setTimeout(() => {
      delete container.exitTimer;
      if (container.status === 'running') this.exited(container, exit.exitCode);
    }, exit.afterMs);
    // A scheduled crash must not keep a test or a worker process alive.
    container.exitTimer.unref();
  }

  /** The container's healthcheck says `health`. */
  simulateHealth(id: string, health: NonNullable<ContainerInfo['health']>): void {
    this.mustGet(id).health = health;
  }

  /** The spec a container was created from, for assertions. */
  specOf(id: string): ContainerSpec {
    return structuredClone(this.mustGet(id).spec);
  }

  private enter(op: EngineOperation): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    const injected = this.failures.get(op)?.shift();
    if (injected !== undefined) throw injected;
    if (!this.available) throw new EngineUnavailableError('the in-memory engine is marked unavailable');
  }

  private mustGet(id: string): StoredContainer {
    const container = this.containers.get(id);
    if (container === undefined) throw new NotFoundError(`container ${id}`);
    return container;
  }

  private toInfo(container: StoredContainer): ContainerInfo | undefined {
    const parsed = parseBosunLabels(container.spec.labels);
    if (!parsed.ok) return undefined;
    return {
      id: container.id,
      name: container.spec.name,
      image: container.spec.image,
      status: container.status,
      ...parsed.identity,
      labels: { ...container.spec.labels },
      createdAt: container.createdAt,
      ...(container.startedAt !== undefined && { startedAt: container.startedAt }),
      ...(container.exitCode !== undefined && { exitCode: container.exitCode }),
      ...(container.restartCount !== undefined && { restartCount: container.restartCount }),
      ...(container.health !== undefined && { health: container.health }),
      ...(container.spec.networkMode === 'networks' && { networks: this.networksOf(container.spec) }),
    };
  }

  /** The networks a container is connected to: all of its spec's (create connects the others). */
  private networksOf(spec: ContainerSpec): string[] {
    if (spec.networkMode !== 'networks') return [];
    return (spec.networks ?? []).map((n) => n.network).sort();
  }

  // ---- Engine ----

  async ping(): Promise<void> {
    this.enter('ping');
  }

  async listContainers(deviceUuid: string): Promise<ContainerInfo[]> {
    this.enter('listContainers');
    const infos: ContainerInfo[] = [];
    for (const container of this.containers.values()) {
      if (container.spec.labels[LABELS.deviceUuid] !== deviceUuid) continue;
      const info = this.toInfo(container);
      if (info !== undefined) infos.push(info);
    }
    return infos;
  }

  async listContainersOfAllDevices(): Promise<ContainerInfo[]> {
    this.enter('listContainersOfAllDevices');
    const infos: ContainerInfo[] = [];
    for (const container of this.containers.values()) {
      if (container.spec.labels[LABELS.deviceUuid] === undefined) continue;
      const info = this.toInfo(container);
      if (info !== undefined) infos.push(info);
    }
    return infos;
  }

  async inspectContainer(id: string): Promise<ContainerInfo> {
    this.enter('inspectContainer');
    const info = this.toInfo(this.mustGet(id));
    if (info === undefined) throw new NotFoundError(`bosun container ${id} (it lacks bosun's labels)`);
    return info;
  }

  async hasImage(ref: string): Promise<boolean> {
    this.enter('hasImage');
    return this.images.has(ref);
  }

  async pullImage(ref: string, options: PullOptions = {}): Promise<void> {
    this.enter('pullImage');
    this.pulls.set(ref, (this.pulls.get(ref) ?? 0) + 1);
    const { signal, onProgress } = options;
    if (signal?.aborted) throw new AbortedError(`pull of ${ref} aborted`);
    if (!this.inRegistry(ref)) throw new ImageNotFoundError(ref);
    const report = (fraction: number) => onProgress?.(this.progress(ref, fraction));
    if (this.images.has(ref) || this.pullDelayMs === 0) {
      this.images.add(ref);
      report(1);
      return;
    }
    report(0);
    const stepMs = this.pullDelayMs / this.pullSteps;
    for (let step = 1; step <= this.pullSteps; step += 1) {
      try {
        await this.sleep(stepMs, signal);
      } catch (err) {
        if (signal?.aborted) throw new AbortedError(`pull of ${ref} aborted`, { cause: err });
        throw err;
      }
      // A custom sleep may ignore the signal; the pull must still stop.
      if (signal?.aborted) throw new AbortedError(`pull of ${ref} aborted`);
      if (step === this.pullSteps) this.images.add(ref);
      report(step / this.pullSteps);
    }
  }

  private progress(image: string, fraction: number): PullProgress {
    const done = fraction >= 1;
    return {
      image,
      layersTotal: 1,
      layersDone: done ? 1 : 0,
      bytesTotal: this.imageSizeBytes,
      bytesDone: Math.round(this.imageSizeBytes * fraction),
      percent: Math.floor(fraction * 100),
    };
  }

  async removeImage(ref: string): Promise<void> {
    this.enter('removeImage');
    if (!this.images.has(ref)) return;
    for (const container of this.containers.values()) {
      if (container.spec.image === ref) throw new ImageInUseError(ref);
    }
    this.images.delete(ref);
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    this.enter('createContainer');
    for (const container of this.containers.values()) {
      if (container.spec.name === spec.name) throw new NameConflictError(spec.name);
    }
    if (!this.images.has(spec.image))
      throw new NotFoundError(`image ${spec.image} (for container ${spec.name})`);
    for (const endpoint of spec.networkMode === 'networks' ? (spec.networks ?? []) : []) {
      if (!this.networks.has(endpoint.network)) {
        throw new NotFoundError(`network ${endpoint.network} (for container ${spec.name})`);
      }
    }
    if (spec.networkMode.startsWith('container:')) {
      const peer = spec.networkMode.slice('container:'.length);
      if (![...this.containers.values()].some((c) => c.spec.name === peer || c.id === peer)) {
        throw new NotFoundError(`container ${peer} (whose network ${spec.name} is to share)`);
      }
    }
    for (const mount of spec.mounts) {
      // The docker engine creates a named volume a container mounts; do the same.
      if (mount.type === 'volume' && mount.source !== '' && !this.volumes.has(mount.source))
        this.volumes.set(mount.source, {});
    }
    const id = this.nextId.toString(16).padStart(64, '0');
    this.nextId += 1;
    this.containers.set(id, {
      id,
      spec: structuredClone(spec),
      createdAt: this.now().toISOString(),
      status: 'created',
      logs: [],
      followers: new Set(),
    });
    return id;
  }

  async startContainer(id: string): Promise<void> {
    this.enter('startContainer');
    const container = this.mustGet(id);
    if (container.status === 'running') return;
    container.status = 'running';
    container.startedAt = this.now().toISOString();
    delete container.exitCode;
    this.scheduleExit(container);
  }

  async stopContainer(id: string, _timeoutSec?: number): Promise<void> {
    this.enter('stopContainer');
    const container = this.mustGet(id);
    if (container.status !== 'running') return;
    this.exited(container, 0); // the apps trap SIGTERM and exit cleanly
  }

  async killContainer(id: string, signal = 'SIGKILL'): Promise<void> {
    this.enter('killContainer');
    const container = this.mustGet(id);
    if (container.status !== 'running') return;
    this.exited(container, SIGNAL_EXIT_CODES[signal] ?? 137);
  }

  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    this.enter('removeContainer');
    const container = this.containers.get(id);
    if (container === undefined) return;
    if (container.status === 'running' && options.force !== true) {
      throw new EngineError(`container ${id}: cannot remove a running container without force`, 409);
    }
    this.containers.delete(id);
    clearTimeout(container.exitTimer);
    this.endFollowers(container);
  }

  async createVolume(name: string, labels: Record<string, string>, _options?: VolumeOptions): Promise<void> {
    this.enter('createVolume');
    if (!this.volumes.has(name)) this.volumes.set(name, { ...labels });
  }

  async removeVolume(name: string): Promise<void> {
    this.enter('removeVolume');
    if (!this.volumes.has(name)) return;
    for (const container of this.containers.values()) {
      if (container.spec.mounts.some((mount) => mount.type === 'volume' && mount.source === name)) {
        throw new EngineError(`volume ${name} is in use by container ${container.spec.name}`, 409);
      }
    }
    this.volumes.delete(name);
  }

  async listVolumes(deviceUuid: string): Promise<VolumeInfo[]> {
    this.enter('listVolumes');
    const volumes: VolumeInfo[] = [];
    for (const [name, labels] of this.volumes) {
      if (labels[LABELS.deviceUuid] === deviceUuid) volumes.push({ name, labels: { ...labels } });
    }
    return volumes;
  }

  async listNetworks(deviceUuid: string, alsoNamed: readonly string[] = []): Promise<NetworkInfo[]> {
    this.enter('listNetworks');
    return [...this.networks.values()]
      .filter((n) => n.labels[LABELS.deviceUuid] === deviceUuid || alsoNamed.includes(n.name))
      .map((n) => structuredClone(n));
  }

  async createNetwork(spec: NetworkSpec): Promise<void> {
    this.enter('createNetwork');
    const existing = this.networks.get(spec.name);
    if (existing !== undefined) {
      const same = Object.entries(spec.labels).every(([key, value]) => existing.labels[key] === value);
      if (!same) throw new NameConflictError(`network ${spec.name}`);
      return;
    }
    const n = this.nextId;
    this.nextId += 1;
    const gateway = spec.ipam?.config.find((pool) => pool.gateway !== undefined)?.gateway;
    this.networks.set(spec.name, {
      id: n.toString(16).padStart(64, 'f'),
      name: spec.name,
      labels: { ...spec.labels },
      gateway: gateway ?? `10.${(n >> 8) & 255}.${n & 255}.1`,
    });
  }

  async removeNetwork(name: string): Promise<void> {
    this.enter('removeNetwork');
    if (!this.networks.has(name)) return;
    // As the docker engine: only a running container has an endpoint that holds the network.
    for (const container of this.containers.values()) {
      if (container.status === 'running' && this.networksOf(container.spec).includes(name)) {
        throw new EngineError(`network ${name} has active endpoints (container ${container.spec.name})`, 403);
      }
    }
    this.networks.delete(name);
  }

  async followLogs(id: string, options: FollowLogsOptions): Promise<void> {
    this.enter('followLogs');
    const { since, onLine, signal } = options;
    const container = this.containers.get(id);
    if (container === undefined || signal.aborted) return;
    for (const line of container.logs) {
      if (since === undefined || compareCursors(line.cursor, since) >= 0) onLine(line);
    }
    if (container.status !== 'running') return;
    await new Promise<void>((resolve) => {
      const follower: LogFollower = {
        onLine,
        end: () => {
          container.followers.delete(follower);
          signal.removeEventListener('abort', follower.end);
          resolve();
        },
      };
      container.followers.add(follower);
      signal.addEventListener('abort', follower.end, { once: true });
    });
  }
}
