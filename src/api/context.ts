import type { Registry } from 'prom-client';
import type { ApiAuth } from './auth.js';
import type { DeviceFacade } from './device-facade.js';
import type { HostInfo } from './views.js';

/** What the route modules share, built once per server by createApiServer. */
export interface RouteContext {
  facade: DeviceFacade;
  auth: ApiAuth;
  metrics: Registry;
  localMode: boolean;
  version: string;
  hostInfo: () => HostInfo;
  /** How long an action waits for an app's lock before answering 423. */
  lockTimeoutMs: number;
}
