import type { DeviceFacade, DeviceView, LockEntry, UpdateTrigger } from '../api/device-facade.js';
import { BadRequestError } from '../api/errors.js';
import type { AppActions } from './app-actions.js';
import type { AppKeys } from './app-keys.js';
import { keysEqual } from './identity.js';
import type { TargetKeeper } from './target-keeper.js';

export interface FacadeDeps {
  actions: AppActions;
  keeper: TargetKeeper;
  appKeys: AppKeys;
  globalKey: string;
  localMode: boolean;
  view: () => Promise<DeviceView>;
  locks: () => Promise<LockEntry[]>;
  triggerUpdate: (options: UpdateTrigger) => boolean;
  healthy: () => { healthy: boolean; reason?: string };
}

/** The agent as the local API sees it (src/api/device-facade.ts). Thin: it routes, the parts act. */
export function createDeviceFacade(deps: FacadeDeps): DeviceFacade {
  const { actions } = deps;
  return {
    view: deps.view,
    locks: deps.locks,
    triggerUpdate: async (options) => deps.triggerUpdate(options),
    healthy: async () => deps.healthy(),
    restartApp: (appId, options) => actions.restartApp(appId, options),
    purgeApp: (appId, options) => actions.purgeApp(appId, options),
    stopService: (appId, serviceName, options) => actions.stopService(appId, serviceName, options),
    startService: (appId, serviceName) => actions.startService(appId, serviceName),
    restartService: (appId, serviceName, options) => actions.restartService(appId, serviceName, options),
    reboot: (options) => actions.reboot(options),
    shutdown: (options) => actions.shutdown(options),
    async setLocalTarget(body) {
      if (!deps.localMode) throw new BadRequestError('local target state can be set only in local mode');
      const verdict = await deps.keeper.offerLocal(unwrapLocalDevice(body));
      if (!verdict.accepted) throw new BadRequestError(`target state rejected: ${verdict.reason}`);
    },
    async localTarget() {
      return deps.keeper.rawDevice ?? { name: '', config: {}, apps: {} };
    },
    keyScope(key) {
      if (keysEqual(deps.globalKey, key)) return { scope: 'global' };
      const appId = deps.appKeys.appFor(key);
      return appId === undefined ? undefined : { scope: 'app', appId };
    },
  };
}

/**
 * GET /v2/local/target-state answers `{ "local": <v3 device object> }`. A client that posts that
 * back unchanged (balena's GET, modify, POST round trip) must set the same target, so a v3 device
 * object wrapped in `local` is unwrapped here. The v2 shape is told apart by its apps: a v2 app
 * has `commit` and `services`, a v3 app has `releases`. Anything else passes through untouched
 * for validation to judge.
 */
function unwrapLocalDevice(body: unknown): unknown {
  if (!isObject(body) || Object.keys(body).length !== 1 || !isObject(body.local)) return body;
  const apps = body.local.apps;
  if (!isObject(apps)) return body;
  const values = Object.values(apps);
  const allV3 = values.length > 0 && values.every((app) => isObject(app) && 'releases' in app);
  return allV3 ? body.local : body;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
