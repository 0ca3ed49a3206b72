import type { ContainerSpec, NetworkSpec, VolumeOptions } from '../engine/types.js';

/**
 * Steps are plain data: what to do next, nothing about how (design.md, example 1). The planner
 * emits them, one executor per action carries them out.
 */
export interface StepArgs {
  /** Pull an image; never waits for a lock. */
  fetch: { appUuid: string; serviceName: string; image: string };
  /** `labels` are the release's own for the volume; bosun's ownership labels are added to them. */
  createVolume: {
    appUuid: string;
    appId: number;
    volume: string;
    options?: VolumeOptions;
    labels?: Record<string, string>;
  };
  removeVolume: { appUuid: string; volume: string };
  /** Create an app network (a bridge); `spec` carries bosun's ownership labels and config hash. */
  createNetwork: { appUuid: string; network: string; spec: NetworkSpec };
  /** Remove an app network nothing is attached to (unused, or to be made again with a new config). */
  removeNetwork: { appUuid: string; network: string };
  /** Remove the app's persistent /data (app removed from the target). */
  removeAppData: { appUuid: string; appId: number; override: boolean };
  /** Take every lock path of the app; with `override`, user locks in the way are removed. */
  takeLock: {
    appUuid: string;
    appId: number;
    serviceNames: string[];
    override: boolean;
    /** The override is the lock deadline's alone (contract section 10), for the metric's source. */
    deadline?: boolean;
  };
  releaseLock: { appUuid: string; appId: number };
  /** `start`: start it right after creating it (the target wants it running, no dependency pending). */
  create: { appUuid: string; serviceName: string; spec: ContainerSpec; start: boolean };
  start: { appUuid: string; serviceName: string; containerId: string };
  /**
   * Stop a running container and leave it (target says running: false, or an API stop). Without
   * `timeoutSec` the engine uses the container's own stop timeout (its release's grace period).
   */
  stop: { appUuid: string; serviceName: string; containerId: string; timeoutSec?: number };
  /**
   * Stop (grace period, then SIGKILL) and remove a container. `removeImage` (delete-then-download)
   * also deletes its image once unused; `clearHandover` deletes the hand-over markers it obeyed.
   */
  kill: {
    appUuid: string;
    serviceName: string;
    containerId: string;
    /**
     * Absent: the engine uses the container's own stop timeout, set from ITS release's
     * stop_grace_period when it was created (the new release's must not cut the old one short).
     */
    timeoutSec?: number;
    removeImage?: string;
    clearHandover?: { appId: number };
  };
  /** Remove a container that is not running: interrupts nothing, needs no lock. */
  remove: { appUuid: string; serviceName: string; containerId: string };
  /**
   * Delete an image the agent pulled itself once no target service and no container of the device
   * uses it (the device is not a cache of every release it ran). Device-wide: no app, no lock.
   */
  removeImage: { image: string };
  /** An API purge: wipe the app's /data (the agent's own lock file stays) and its volumes. */
  wipeAppData: { appUuid: string; appId: number; intentId: number };
  /** An API reboot or shutdown, run once the agent holds every app's lock. */
  hostCommand: { what: 'reboot' | 'shutdown'; command: string; intentId: number };
  /** Nothing can happen for this app until something changes. */
  wait: WaitReason;
}

export type WaitReason =
  | { appUuid: string; reason: 'locked'; paths: string[] }
  /** Outside the app's update window: the update runs when it opens. */
  | { appUuid: string; reason: 'scheduled' }
  | { appUuid: string; reason: 'handover'; serviceName: string; ms: number }
  | { appUuid: string; reason: 'dependency'; serviceName: string; on: string[] }
  /** The release cannot run here as things are (a network name another device owns). */
  | { appUuid: string; reason: 'conflict'; message: string };

export type Action = keyof StepArgs;
export type Step = { [K in Action]: { action: K } & StepArgs[K] }[Action];
export type StepOf<K extends Action> = Extract<Step, { action: K }>;

/** Steps that interrupt a running service: the agent must hold the app's lock for them. */
export function isInterrupting(step: Step): step is StepOf<'kill'> | StepOf<'stop'> | StepOf<'wipeAppData'> {
  return step.action === 'kill' || step.action === 'stop' || step.action === 'wipeAppData';
}

/** A stable identity for a step, used to track retries and backoff across passes. */
export function stepKey(step: Step): string {
  switch (step.action) {
    case 'fetch':
      return `fetch:${step.image}`;
    case 'removeImage':
      return `removeImage:${step.image}`;
    case 'createVolume':
    case 'removeVolume':
      return `${step.action}:${step.volume}`;
    case 'createNetwork':
    case 'removeNetwork':
      return `${step.action}:${step.network}`;
    case 'removeAppData':
    case 'wipeAppData':
    case 'takeLock':
    case 'releaseLock':
      return `${step.action}:${step.appUuid}`;
    case 'create':
      return `create:${step.spec.name}`;
    case 'start':
    case 'stop':
    case 'kill':
    case 'remove':
      return `${step.action}:${step.containerId}`;
    case 'hostCommand':
      return `hostCommand:${step.intentId}`;
    case 'wait':
      return `wait:${step.appUuid}:${step.reason}`;
  }
}

/** The app a step belongs to; undefined for device-wide steps. */
export function stepApp(step: Step): string | undefined {
  return 'appUuid' in step ? step.appUuid : undefined;
}
