import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { LockedError, UnknownTargetError } from '../api/errors.js';
import type { ContainerInfo, Engine } from '../engine/types.js';
import type { LockManager, LockSubject } from '../locks/manager.js';
import { appDataDir, type LockLayout } from '../locks/paths.js';
import { appLockSubject, lockSubjects } from '../reconcile/facts.js';
import type { ReconcileLoop } from '../reconcile/loop.js';
import type { TargetApp, TargetState } from '../target/types.js';
import type { PersistedSet } from '../store/persisted-set.js';
import { ifMissing } from '../util/fs.js';
import type { Logger } from '../util/logger.js';

const run = promisify(execFile);
const API_OWNER = 'api';
const LOCK_RETRY_MS = 200;

export interface AppActionDeps {
  deviceUuid: string;
  engine: Engine;
  locks: LockManager;
  layout: LockLayout;
  loop: ReconcileLoop;
  log: Logger;
  target: () => TargetState | undefined;
  deviceOverride: () => boolean;
  rebootCommand: string;
  shutdownCommand: string;
  /** Containers stopped through the API: the loop leaves them stopped, across restarts too. */
  heldStopped: PersistedSet;
  sleep?: (ms: number) => Promise<void>;
}

export interface LockOptions {
  force: boolean;
  lockTimeoutMs?: number;
}

/**
 * The local API's actions on apps: restart, stop, start, purge, reboot, shutdown. Each action
 * that interrupts a service takes the app's update lock first, exactly as an update does: it
 * waits for a user's lock up to `lockTimeoutMs`, then gives up with LockedError (HTTP 423), unless
 * `force` or an override is in force.
 */
export class AppActions {
  constructor(private readonly deps: AppActionDeps) {}

  async restartApp(appId: number, options: LockOptions): Promise<void> {
    const app = this.app(appId);
    await this.underLock([appLockSubject(app)], options, 'restart', async () => {
      for (const c of await this.containersOf(app)) {
        await this.deps.heldStopped.delete(c.id);
        await this.killContainer(c);
      }
    });
    await this.recreated(app);
  }

  async restartService(appId: number, serviceName: string, options: LockOptions): Promise<void> {
    const app = this.app(appId);
    this.service(app, serviceName);
    await this.underLock([appLockSubject(app)], options, 'restart-service', async () => {
      for (const c of await this.containersOf(app, serviceName)) await this.killContainer(c);
    });
    await this.recreated(app, serviceName);
  }

  async stopService(appId: number, serviceName: string | undefined, options: LockOptions): Promise<string[]> {
    const app = this.app(appId);
    if (serviceName !== undefined) this.service(app, serviceName);
    const stopped: string[] = [];
    await this.underLock([appLockSubject(app)], options, 'stop', async () => {
      const all = await this.deps.engine.listContainers(this.deps.deviceUuid);
      // Records of containers that are gone (replaced by a release since) can never match again.
      await this.deps.heldStopped.retain((id) => all.some((c) => c.id === id));
      for (const c of all.filter((c) => inApp(c, app, serviceName))) {
        await this.deps.heldStopped.add(c.id);
        const grace = app.release?.services[c.serviceName]?.composition.stopGracePeriodSec;
        await this.deps.engine.stopContainer(c.id, grace);
        stopped.push(c.id);
      }
    });
    return stopped;
  }

  /** Starting interrupts nothing: it never waits for a lock. */
  async startService(appId: number, serviceName: string | undefined): Promise<string[]> {
    const app = this.app(appId);
    if (serviceName !== undefined) this.service(app, serviceName);
    const started: string[] = [];
    await this.deps.loop.runExclusive(async () => {
      for (const c of await this.containersOf(app, serviceName)) {
        await this.deps.heldStopped.delete(c.id);
        await this.deps.engine.startContainer(c.id);
        started.push(c.id);
      }
    });
    return started;
  }

  /** Kills the app's containers, wipes its /data and volumes, and lets the loop bring it back. */
  async purgeApp(appId: number, options: LockOptions): Promise<void> {
    const app = this.app(appId);
    await this.underLock([appLockSubject(app)], options, 'purge', async () => {
      for (const c of await this.containersOf(app)) await this.killContainer(c);
      const dataDir = appDataDir(this.deps.layout, app.appId);
      for (const entry of await ifMissing(fs.readdir(dataDir), [])) {
        // The agent's own lock file stays until the lock is released; everything else goes.
        if (entry === 'resin-updates.lock' && this.deps.locks.holder(app.appUuid) === API_OWNER) continue;
        await fs.rm(`${dataDir}/${entry}`, { recursive: true, force: true });
      }
      for (const volume of await this.deps.engine.listVolumes(this.deps.deviceUuid)) {
        if (volume.labels['io.balena.app-uuid'] === app.appUuid)
          await this.deps.engine.removeVolume(volume.name);
      }
      this.deps.log.warn({ appId, dataDir }, 'app purged: /data and volumes wiped');
    });
    await this.recreated(app);
  }

  async reboot(options: LockOptions): Promise<void> {
    await this.hostCommand(this.deps.rebootCommand, 'reboot', options);
  }

  async shutdown(options: LockOptions): Promise<void> {
    await this.hostCommand(this.deps.shutdownCommand, 'shutdown', options);
  }

  private async hostCommand(command: string, what: string, options: LockOptions): Promise<void> {
    const containers = await this.deps.engine.listContainers(this.deps.deviceUuid);
    const subjects = lockSubjects(this.deps.target(), containers);
    await this.underLock(subjects, options, what, async () => {
      this.deps.log.warn({ command }, `running the host ${what} command`);
      await run('/bin/sh', ['-c', command]);
    });
  }

  /**
   * Takes the lock of every app given (all or none), runs `fn`, releases. Retries while a user
   * lock or the apply loop holds one, until the timeout.
   */
  private async underLock(
    subjects: LockSubject[],
    options: LockOptions,
    reason: string,
    fn: () => Promise<void>,
  ): Promise<void> {
    const deadline = Date.now() + (options.lockTimeoutMs ?? 10_000);
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const taken: string[] = [];
    try {
      for (const subject of subjects) {
        const override = options.force || this.deps.deviceOverride() || this.appOverride(subject.appUuid);
        for (;;) {
          const result = await this.deps.locks.take(subject, { override, reason, owner: API_OWNER });
          if (result.ok) break;
          if (Date.now() >= deadline) {
            const paths = result.blockers.map((b) => b.path);
            throw new LockedError(
              'busyWith' in result
                ? `app ${subject.appId} is being updated; try again shortly`
                : `app ${subject.appId} is locked by ${paths.join(', ')}`,
              paths,
              subject.appId,
            );
          }
          await sleep(LOCK_RETRY_MS);
        }
        taken.push(subject.appUuid);
      }
      // With the locks held, act with no apply pass beside us (see ReconcileLoop.runExclusive).
      await this.deps.loop.runExclusive(fn);
    } finally {
      for (const appUuid of taken) await this.deps.locks.release(appUuid, API_OWNER);
    }
  }

  private appOverride(appUuid: string): boolean {
    const app = this.deps.target()?.apps[appUuid];
    return Object.values(app?.release?.services ?? {}).some((s) => s.overrideLock);
  }

  private app(appId: number): TargetApp {
    const app = Object.values(this.deps.target()?.apps ?? {}).find((a) => a.appId === appId);
    if (!app) throw new UnknownTargetError(`no app with id ${appId} on this device`);
    return app;
  }

  private service(app: TargetApp, serviceName: string): void {
    if (!app.release?.services[serviceName]) {
      throw new UnknownTargetError(`app ${app.appId} has no service named ${serviceName}`);
    }
  }

  private async containersOf(app: TargetApp, serviceName?: string): Promise<ContainerInfo[]> {
    const all = await this.deps.engine.listContainers(this.deps.deviceUuid);
    return all.filter((c) => inApp(c, app, serviceName));
  }

  private async killContainer(c: ContainerInfo): Promise<void> {
    this.deps.log.info(
      { appUuid: c.appUuid, service: c.serviceName, id: c.id },
      'killing container for API action',
    );
    await this.deps.engine.stopContainer(c.id);
    await this.deps.engine.removeContainer(c.id, { force: true });
  }

  /** Waits (up to 60 s) until the loop has brought the app's services back. */
  private async recreated(app: TargetApp, serviceName?: string): Promise<void> {
    const wanted = Object.values(app.release?.services ?? {}).filter(
      (s) => s.running && (serviceName === undefined || s.serviceName === serviceName),
    );
    const deadline = Date.now() + 60_000;
    this.deps.loop.trigger();
    while (Date.now() < deadline) {
      const running = (await this.containersOf(app, serviceName)).filter((c) => c.status === 'running');
      if (wanted.every((s) => running.some((c) => c.serviceName === s.serviceName))) return;
      await this.deps.loop.nextPass();
    }
    this.deps.log.warn({ appId: app.appId, serviceName }, 'app not back up within 60 s after API action');
  }
}

/** The container belongs to the app (and to the service, when one is named). */
function inApp(c: ContainerInfo, app: TargetApp, serviceName?: string): boolean {
  return c.appUuid === app.appUuid && (serviceName === undefined || c.serviceName === serviceName);
}
