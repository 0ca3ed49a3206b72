import type { FastifyRequest } from 'fastify';
import type { ApiAuth } from './auth.js';
import type { ActionOptions, DeviceFacade } from './device-facade.js';
import type { MetricsSource } from './metrics.js';
import { readFlag, readId } from './input.js';
import type { HostInfo } from './views.js';

/** What the route modules share, built once per server by createApiServer. */
export interface RouteContext {
  facade: DeviceFacade;
  auth: ApiAuth;
  metrics: MetricsSource;
  localMode: boolean;
  version: string;
  hostInfo: () => HostInfo;
  /** How long an action waits for an app's lock before answering 423. */
  lockTimeoutMs: number;
}

/** The `:appId` of a route, validated and checked against the key's scope. */
export function appIdParam(
  ctx: RouteContext,
  request: FastifyRequest<{ Params: { appId: string } }>,
): number {
  const appId = readId(request.params.appId, 'appId');
  ctx.auth.requireApp(request, appId);
  return appId;
}

/** `force` from an action's body, with the API's lock wait. */
export function actionOptions(ctx: RouteContext, body: Record<string, unknown>): ActionOptions {
  return { force: readFlag(body, 'force'), lockTimeoutMs: ctx.lockTimeoutMs };
}
