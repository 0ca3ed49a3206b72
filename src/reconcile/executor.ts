import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ifMissing } from '../util/fs.js';
import { ImageInUseError } from '../engine/errors.js';
import type { Engine, PullProgress } from '../engine/types.js';
import type { Quarantine } from '../host/quarantine.js';
import type { LockManager } from '../locks/lock-manager.js';
import {
  appDataDir,
  ensureAppDataDir,
  ensureServiceLockDir,
  handoverMarkerPaths,
  type LockLayout,
} from '../locks/paths.js';
import type { PersistedSet } from '../store/persisted-set.js';
import { BosunError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { Action, Step, StepOf } from './steps.js';

export interface ExecutorDeps {
  deviceUuid: string;
  engine: Engine;
  locks: LockManager;
  layout: LockLayout;
  quarantine: Quarantine;
  log: Logger;
  /** Images the agent pulled: recorded before each pull, so a crash mid-pull forgets none. */
  pulledImages: PersistedSet;
  onPullProgress?: (appUuid: string, serviceName: string, progress: PullProgress) => void;
  /**
   * User locks were removed under an override (for metrics and the report); `byDeadline` when
   * the only override was the app's lock deadline having passed.
   */
  onLockOverridden?: (appUuid: string, paths: string[], byDeadline: boolean) => void;
  /** The agent is about to interrupt a running container (tests record these to prove lock safety). */
  onInterrupt?: (step: StepOf<'kill'> | StepOf<'stop'>) => void;
}

/** The app's /data holds a user lock and no override is in force: removing it would delete the lock. */
export class AppDataLockedError extends BosunError {
  override name = 'AppDataLockedError';
  constructor(appId: number) {
    super('EAPPDATA_LOCKED', `app ${appId} was removed but its /data holds a user lock; keeping it`, {
      transient: true,
    });
  }
}

const runCommand = promisify(execFile);

type Executors = { [K in Action]: (step: StepOf<K>, signal: AbortSignal) => Promise<void> };

/** One executor per action (design.md, example 2). Each is idempotent: running it twice is safe. */
export function createExecutor(deps: ExecutorDeps): (step: Step, signal: AbortSignal) => Promise<void> {
  const { engine, locks, layout, quarantine, log } = deps;
  const executors: Executors = {
    async fetch(step, signal) {
      log.info({ appUuid: step.appUuid, service: step.serviceName, image: step.image }, 'pulling image');
      await deps.pulledImages.add(step.image);
      await engine.pullImage(step.image, {
        signal,
        onProgress: (progress) => deps.onPullProgress?.(step.appUuid, step.serviceName, progress),
      });
    },
    async createVolume(step) {
      await engine.createVolume(
        step.volume,
        {
          ...step.labels,
          'io.bosun.device-uuid': deps.deviceUuid,
          'io.balena.app-uuid': step.appUuid,
          'io.balena.app-id': String(step.appId),
        },
        step.options,
      );
    },
    async removeVolume(step) {
      await engine.removeVolume(step.volume);
    },
    async createNetwork(step) {
      log.info({ appUuid: step.appUuid, network: step.network }, 'creating network');
      await engine.createNetwork(step.spec);
    },
    async removeNetwork(step) {
      log.info({ appUuid: step.appUuid, network: step.network }, 'removing network');
      await engine.removeNetwork(step.network);
    },
    async removeAppData(step) {
      const facts = await locks.scan({ appUuid: step.appUuid, appId: step.appId, serviceNames: [] });
      if (facts.userLocks.length > 0 && !step.override) throw new AppDataLockedError(step.appId);
      const dir = path.dirname(appDataDir(layout, step.appId));
      log.info({ appId: step.appId, dir }, 'removing data of removed app');
      await quarantine.moveAside(dir);
    },
    async takeLock(step) {
      const result = await locks.take(
        { appUuid: step.appUuid, appId: step.appId, serviceNames: step.serviceNames },
        { override: step.override, reason: 'update' },
      );
      if (!result.ok) {
        // Expected: an app took its lock between our scan and our take. The next pass waits for it.
        log.info(
          { appUuid: step.appUuid, paths: result.blockers.map((b) => b.path) },
          'app took its update lock first',
        );
      } else if (result.removedUserLocks.length > 0) {
        deps.onLockOverridden?.(
          step.appUuid,
          result.removedUserLocks.map((l) => l.path),
          step.deadline === true,
        );
      }
    },
    async releaseLock(step) {
      await locks.release(step.appUuid);
    },
    async create(step) {
      const appId = Number(step.spec.labels['io.balena.app-id']);
      await ensureAppDataDir(layout, appId);
      await ensureServiceLockDir(layout, appId, step.serviceName);
      log.info(
        { appUuid: step.appUuid, service: step.serviceName, name: step.spec.name },
        'creating container',
      );
      const id = await engine.createContainer(step.spec);
      if (step.start) {
        log.info({ appUuid: step.appUuid, service: step.serviceName, id }, 'starting container');
        await engine.startContainer(id);
      }
    },
    async start(step) {
      log.info(containerContext(step), 'starting container');
      await engine.startContainer(step.containerId);
    },
    async stop(step) {
      deps.onInterrupt?.(step);
      log.info(containerContext(step), 'stopping container');
      await engine.stopContainer(step.containerId, step.timeoutSec);
    },
    async kill(step) {
      deps.onInterrupt?.(step);
      log.info(containerContext(step), 'killing container');
      await engine.stopContainer(step.containerId, step.timeoutSec);
      await engine.removeContainer(step.containerId, { force: true });
      if (step.clearHandover) {
        // Whatever the app made there (a file, a directory, a link) goes, without being walked.
        for (const marker of handoverMarkerPaths(layout, step.clearHandover.appId, step.serviceName)) {
          await quarantine.moveAside(marker);
        }
      }
      if (step.removeImage) await removeImageIfUnused(engine, step.removeImage, log);
    },
    async remove(step) {
      await engine.removeContainer(step.containerId, { force: true });
    },
    async removeImage(step) {
      log.info({ image: step.image }, 'removing an image no release uses any more');
      await removeImageIfUnused(engine, step.image, log);
      // Kept or gone, it is no longer bosun's to clean up: whatever still uses it is not bosun's.
      await deps.pulledImages.delete(step.image);
    },
    async wipeAppData(step) {
      const dataDir = appDataDir(layout, step.appId);
      for (const entry of await ifMissing(fs.readdir(dataDir), [])) {
        // The agent holds the app's lock while it wipes: the lock file there is its own, and stays
        // until the lock is released. Everything else goes, out of the app's reach first.
        if (entry === 'resin-updates.lock') continue;
        await quarantine.moveAside(path.join(dataDir, entry));
      }
      for (const volume of await engine.listVolumes(deps.deviceUuid)) {
        if (volume.labels['io.balena.app-uuid'] === step.appUuid) await engine.removeVolume(volume.name);
      }
      log.warn({ appUuid: step.appUuid, dataDir }, 'app purged: /data and volumes wiped');
    },
    async hostCommand(step) {
      log.warn({ command: step.command }, `running the host ${step.what} command`);
      await runCommand('/bin/sh', ['-c', step.command]);
    },
    async wait() {
      // Waiting is the loop's business; a wait step is never executed.
    },
  };
  return (step, signal) =>
    (executors[step.action] as (s: Step, signal: AbortSignal) => Promise<void>)(step, signal);
}

/** The log fields that name a step's container. */
function containerContext(step: { appUuid: string; serviceName: string; containerId: string }) {
  return { appUuid: step.appUuid, service: step.serviceName, id: step.containerId };
}

/** The image goes unless a container (another release's, or one bosun does not manage) uses it. */
async function removeImageIfUnused(engine: Engine, image: string, log: Logger): Promise<void> {
  try {
    await engine.removeImage(image);
  } catch (err) {
    if (!(err instanceof ImageInUseError)) throw err;
    log.info({ image }, 'image still in use by another container; kept');
  }
}
