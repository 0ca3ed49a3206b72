import type {
  ActionOptions,
  AppView,
  DeviceFacade,
  DeviceView,
  LockEntry,
  UpdateTrigger,
} from '../../src/api/device-facade.js';
import { BadRequestError, LockedError, UnknownTargetError } from '../../src/api/errors.js';

/** Keys the fake knows: one global, one per sample app. */
export const GLOBAL_KEY = 'global-key-0123456789abcdef';
export const APP1_KEY = 'app1-key-0123456789abcdef';
export const APP2_KEY = 'app2-key-0123456789abcdef';

export const MUTATING_METHODS = [
  'triggerUpdate',
  'restartApp',
  'purgeApp',
  'stopService',
  'startService',
  'restartService',
  'reboot',
  'shutdown',
  'setLocalTarget',
] as const;

type FacadeMethod = Exclude<keyof DeviceFacade, 'keyScope'>;

export interface RecordedCall {
  method: FacadeMethod;
  args: unknown[];
}

/** Two apps: 1 'sensor-app' with services main+helper, 2 'other-app' with main. */
export function sampleView(): DeviceView {
  const lock: LockEntry = {
    appUuid: 'app-uuid-1',
    appId: 1,
    serviceName: 'main',
    path: '/tmp/balena/updates.lock',
    hostPath: '/tmp/bosun/services/1/main/updates.lock',
    holder: 'app',
    since: '2026-01-01T00:00:00.000Z',
  };
  const apps: AppView[] = [
    {
      appId: 1,
      appUuid: 'app-uuid-1',
      appName: 'sensor-app',
      commit: 'release-a',
      updateStatus: 'done',
      locks: [lock],
      services: [
        {
          serviceName: 'main',
          serviceId: 23,
          imageId: 1001,
          image: '127.0.0.1:5000/bosun/demo:1',
          status: 'Running',
          containerId: 'container-main-1',
          releaseUuid: 'release-a',
          releaseId: 7,
          downloadProgress: null,
        },
        {
          serviceName: 'helper',
          serviceId: 24,
          imageId: 1002,
          image: '127.0.0.1:5000/bosun/locker:1',
          status: 'Downloading',
          releaseUuid: 'release-a',
          downloadProgress: 40,
        },
      ],
    },
    {
      appId: 2,
      appUuid: 'app-uuid-2',
      appName: 'other-app',
      commit: 'release-b',
      updateStatus: 'locked',
      locks: [],
      services: [
        {
          serviceName: 'main',
          serviceId: 31,
          imageId: 2001,
          image: '127.0.0.1:5000/bosun/demo:2',
          status: 'Running',
          containerId: 'container-main-2',
          releaseUuid: 'release-b',
          downloadProgress: null,
        },
      ],
    },
  ];
  return {
    uuid: 'device-uuid-1',
    name: 'kitchen-pi',
    status: 'Idle',
    appState: 'applied',
    commit: 'release-a',
    updatePending: false,
    updateDownloaded: false,
    updateFailed: false,
    overallDownloadProgress: null,
    targetError: null,
    apps,
    localMode: false,
    version: '0.1.0',
  };
}

/**
 * A DeviceFacade for API tests: records every call, answers from a sample view, and can be
 * told to fail (all calls, or one method) or to treat apps as locked.
 */
export class FakeFacade implements DeviceFacade {
  readonly calls: RecordedCall[] = [];
  deviceView: DeviceView = sampleView();
  /** What triggerUpdate answers: true = triggered (204), false = ignored (202). */
  triggerResult = true;
  health: { healthy: boolean; reason?: string } = { healthy: true };
  /** Thrown by every method (after recording the call) when set. */
  failAll: Error | undefined;
  /** Thrown by one method (after recording the call). */
  failures: Partial<Record<FacadeMethod, Error>> = {};
  /** Apps whose user lock blocks actions unless `force`. */
  readonly lockedApps = new Set<number>();
  storedLocalTarget: unknown = { name: 'kitchen-pi', config: {}, apps: {} };
  private readonly keys = new Map<string, { scope: 'global' } | { scope: 'app'; appId: number }>([
    [GLOBAL_KEY, { scope: 'global' }],
    [APP1_KEY, { scope: 'app', appId: 1 }],
    [APP2_KEY, { scope: 'app', appId: 2 }],
  ]);

  mutatingCalls(): RecordedCall[] {
    return this.calls.filter((call) => (MUTATING_METHODS as readonly string[]).includes(call.method));
  }

  keyScope(key: string) {
    return this.keys.get(key);
  }

  async view(): Promise<DeviceView> {
    this.enter('view', []);
    return structuredClone(this.deviceView);
  }

  async locks(): Promise<LockEntry[]> {
    this.enter('locks', []);
    return this.deviceView.apps.flatMap((app) => structuredClone(app.locks));
  }

  async triggerUpdate(options: UpdateTrigger): Promise<boolean> {
    this.enter('triggerUpdate', [options]);
    return this.triggerResult;
  }

  async healthy(): Promise<{ healthy: boolean; reason?: string }> {
    this.enter('healthy', []);
    return this.health;
  }

  async restartApp(appId: number, options: ActionOptions): Promise<void> {
    this.enter('restartApp', [appId, options]);
    this.checkLock(this.app(appId), options);
  }

  async purgeApp(appId: number, options: ActionOptions): Promise<void> {
    this.enter('purgeApp', [appId, options]);
    this.checkLock(this.app(appId), options);
  }

  async stopService(
    appId: number,
    serviceName: string | undefined,
    options: ActionOptions,
  ): Promise<string[]> {
    this.enter('stopService', [appId, serviceName, options]);
    const app = this.app(appId);
    const ids = this.containerIds(app, serviceName);
    this.checkLock(app, options);
    return ids;
  }

  async startService(appId: number, serviceName: string | undefined): Promise<string[]> {
    this.enter('startService', [appId, serviceName]);
    return this.containerIds(this.app(appId), serviceName);
  }

  async restartService(appId: number, serviceName: string, options: ActionOptions): Promise<void> {
    this.enter('restartService', [appId, serviceName, options]);
    const app = this.app(appId);
    this.containerIds(app, serviceName);
    this.checkLock(app, options);
  }

  async reboot(options: ActionOptions): Promise<void> {
    this.enter('reboot', [options]);
    for (const app of this.deviceView.apps) this.checkLock(app, options);
  }

  async shutdown(options: ActionOptions): Promise<void> {
    this.enter('shutdown', [options]);
    for (const app of this.deviceView.apps) this.checkLock(app, options);
  }

  async setLocalTarget(body: unknown): Promise<void> {
    this.enter('setLocalTarget', [body]);
    if (body === null || typeof body !== 'object' || Object.keys(body).length === 0) {
      throw new BadRequestError('target state must be a v3 device object or a v2 { local } document');
    }
    this.storedLocalTarget = 'local' in body ? (body as { local: unknown }).local : body;
  }

  async localTarget(): Promise<unknown> {
    this.enter('localTarget', []);
    return this.storedLocalTarget;
  }

  private enter(method: FacadeMethod, args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failures[method] ?? this.failAll;
    if (failure) throw failure;
  }

  private app(appId: number): AppView {
    const app = this.deviceView.apps.find((candidate) => candidate.appId === appId);
    if (!app) throw new UnknownTargetError(`no app with id ${appId}`);
    return app;
  }

  private containerIds(app: AppView, serviceName: string | undefined): string[] {
    const services = app.services.filter((s) => serviceName === undefined || s.serviceName === serviceName);
    if (services.length === 0) throw new UnknownTargetError(`app ${app.appId} has no service ${serviceName}`);
    return services.flatMap((s) => (s.containerId ? [s.containerId] : []));
  }

  private checkLock(app: AppView, options: ActionOptions): void {
    if (this.lockedApps.has(app.appId) && !options.force) {
      throw new LockedError(
        `app ${app.appId} is locked by /tmp/balena/updates.lock`,
        ['/tmp/balena/updates.lock'],
        app.appId,
      );
    }
  }
}
