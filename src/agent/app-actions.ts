import type { ReconcileLoop } from '../reconcile/reconcile-loop.js';
import type { IntentRequest } from '../reconcile/intents.js';
import type { TargetApp, TargetState } from '../target/types.js';
import { UnknownTargetError } from '../util/errors.js';

export interface AppActionDeps {
  loop: ReconcileLoop;
  target: () => TargetState | undefined;
  rebootCommand: string;
  shutdownCommand: string;
}

export interface LockOptions {
  force: boolean;
  lockTimeoutMs?: number;
}

/**
 * The local API's actions on apps: restart, stop, start, purge, reboot, shutdown. Each names what
 * it acts on (an unknown app or service is UnknownTargetError, 404) and hands the loop an intent;
 * the loop carries it out under the same lock rules as an update (it waits for a user's lock up to
 * `lockTimeoutMs`, then gives up with LockedError, 423, unless `force` or an override is in force)
 * and answers when it is done.
 */
export class AppActions {
  constructor(private readonly deps: AppActionDeps) {}

  async restartApp(appId: number, options: LockOptions): Promise<void> {
    await this.submit({ kind: 'restart', appUuid: this.app(appId).appUuid }, options);
  }

  async restartService(appId: number, serviceName: string, options: LockOptions): Promise<void> {
    const app = this.service(this.app(appId), serviceName);
    await this.submit({ kind: 'restart', appUuid: app.appUuid, serviceName }, options);
  }

  /** Stopped containers stay stopped (across agent restarts) until started or replaced. */
  stopService(appId: number, serviceName: string | undefined, options: LockOptions): Promise<string[]> {
    const app = this.app(appId);
    if (serviceName !== undefined) this.service(app, serviceName);
    return this.submit({ kind: 'stop', appUuid: app.appUuid, serviceName }, options);
  }

  /** Starting interrupts nothing: it never waits for a lock. */
  startService(appId: number, serviceName: string | undefined): Promise<string[]> {
    const app = this.app(appId);
    if (serviceName !== undefined) this.service(app, serviceName);
    return this.submit({ kind: 'start', appUuid: app.appUuid, serviceName }, { force: false });
  }

  /** Kills the app's containers, wipes its /data and volumes, and brings it back. */
  async purgeApp(appId: number, options: LockOptions): Promise<void> {
    await this.submit({ kind: 'purge', appUuid: this.app(appId).appUuid }, options);
  }

  async reboot(options: LockOptions): Promise<void> {
    await this.submit({ kind: 'hostCommand', what: 'reboot', command: this.deps.rebootCommand }, options);
  }

  async shutdown(options: LockOptions): Promise<void> {
    await this.submit({ kind: 'hostCommand', what: 'shutdown', command: this.deps.shutdownCommand }, options);
  }

  private submit(request: IntentRequest, options: LockOptions): Promise<string[]> {
    return this.deps.loop.submit(request, { force: options.force, lockTimeoutMs: options.lockTimeoutMs });
  }

  private app(appId: number): TargetApp {
    const app = Object.values(this.deps.target()?.apps ?? {}).find((a) => a.appId === appId);
    if (!app) throw new UnknownTargetError(`no app with id ${appId} on this device`);
    return app;
  }

  private service(app: TargetApp, serviceName: string): TargetApp {
    if (!app.release?.services[serviceName]) {
      throw new UnknownTargetError(`app ${app.appId} has no service named ${serviceName}`);
    }
    return app;
  }
}
