import type {
  ContainerSpec,
  Engine,
  FollowLogsOptions,
  NetworkSpec,
  PullOptions,
  VolumeOptions,
} from '../../src/engine/types.js';

export interface EngineCall {
  op: string;
  arg: string;
  at: number;
  phase: 'start' | 'end' | 'error';
}

/**
 * Wraps a real engine and records every mutating call with its time, so tests can check the
 * observable order of an update (what was pulled before what was killed) on the real engine.
 */
export class RecordingEngine implements Engine {
  readonly calls: EngineCall[] = [];

  constructor(private readonly inner: Engine) {}

  private async record<T>(op: string, arg: string, fn: () => Promise<T>): Promise<T> {
    this.calls.push({ op, arg, at: Date.now(), phase: 'start' });
    try {
      const result = await fn();
      this.calls.push({ op, arg, at: Date.now(), phase: 'end' });
      return result;
    } catch (err) {
      this.calls.push({ op, arg, at: Date.now(), phase: 'error' });
      throw err;
    }
  }

  /**
   * Whether a container was stopped, killed or removed since call index `from`. (A `start` of it
   * may be recorded late, after its status already showed running: that interrupts nothing.)
   */
  interruptedSince(from: number, containerId: string): boolean {
    return this.calls
      .slice(from)
      .some((c) => c.arg === containerId && (c.op === 'stop' || c.op === 'kill' || c.op === 'remove'));
  }

  /** Calls of one op (and phase), in order. */
  of(op: string, phase: EngineCall['phase'] = 'start'): EngineCall[] {
    return this.calls.filter((c) => c.op === op && c.phase === phase);
  }

  ping = () => this.inner.ping();
  listContainers = (uuid: string) => this.inner.listContainers(uuid);
  listContainersOfAllDevices = () => this.inner.listContainersOfAllDevices();
  inspectContainer = (id: string) => this.inner.inspectContainer(id);
  hasImage = (ref: string) => this.inner.hasImage(ref);
  listVolumes = (uuid: string) => this.inner.listVolumes(uuid);
  followLogs = (id: string, options: FollowLogsOptions) => this.inner.followLogs(id, options);
  pullImage = (ref: string, options?: PullOptions) =>
    this.record('pull', ref, () => this.inner.pullImage(ref, options));
  removeImage = (ref: string) => this.record('removeImage', ref, () => this.inner.removeImage(ref));
  createContainer = (spec: ContainerSpec) =>
    this.record('create', spec.name, () => this.inner.createContainer(spec));
  startContainer = (id: string) => this.record('start', id, () => this.inner.startContainer(id));
  stopContainer = (id: string, timeoutSec?: number) =>
    this.record('stop', id, () => this.inner.stopContainer(id, timeoutSec));
  killContainer = (id: string, signal?: string) =>
    this.record('kill', id, () => this.inner.killContainer(id, signal));
  removeContainer = (id: string, options?: { force?: boolean }) =>
    this.record('remove', id, () => this.inner.removeContainer(id, options));
  createVolume = (name: string, labels: Record<string, string>, options?: VolumeOptions) =>
    this.record('createVolume', name, () => this.inner.createVolume(name, labels, options));
  removeVolume = (name: string) => this.record('removeVolume', name, () => this.inner.removeVolume(name));
  listNetworks = (uuid: string, alsoNamed?: readonly string[]) => this.inner.listNetworks(uuid, alsoNamed);
  createNetwork = (spec: NetworkSpec) =>
    this.record('createNetwork', spec.name, () => this.inner.createNetwork(spec));
  removeNetwork = (name: string) => this.record('removeNetwork', name, () => this.inner.removeNetwork(name));
}
