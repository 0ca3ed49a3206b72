import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { RequestListener, Server } from 'node:http';
import { BosunError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { createApiAuth } from './auth.js';
import {
  capConnections,
  connectionOptions,
  DEFAULT_CONNECTION_LIMITS,
  type ConnectionLimits,
} from './connection-limits.js';
import { installBodyParser } from './body-parser.js';
import type { BuiltApi } from './front.js';
import type { RouteContext } from './context.js';
import type { DeviceFacade } from './device-facade.js';
import type { MetricsSource } from './metrics.js';
import {
  clientErrorReply,
  formatSchemaErrors,
  frameworkErrorReply,
  installErrorHandling,
} from './error-reply.js';
import type { LocalLogSource } from '../logs/local-stream.js';
import { registerLogRoutes } from './routes-logs.js';
import { registerMiscRoutes } from './routes-misc.js';
import { registerV1Routes } from './routes-v1.js';
import { registerV2Routes } from './routes-v2.js';
import { readHostInfo, type HostInfo } from './views.js';

/** Bodies of the action endpoints are a few fields; anything larger is refused with 413. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;
/** How long an action waits for an app's update lock before answering 423 (balena's 10 s). */
const DEFAULT_LOCK_TIMEOUT_MS = 10_000;

export interface ApiServerDeps {
  facade: DeviceFacade;
  log: Logger;
  metrics: MetricsSource;
  /** No cloud endpoint: POST /v2/local/target-state is allowed. */
  localMode: boolean;
  version: string;
  bodyLimit?: number;
  lockTimeoutMs?: number;
  /** OS version and addresses for GET /v1/device; read from node:os by default. */
  hostInfo?: () => HostInfo;
  /**
   * Connection cap and timeouts (tests use small ones); DEFAULT_CONNECTION_LIMITS otherwise. For
   * createApiServer only: under createApiApp the front's server holds them.
   */
  connectionLimits?: Partial<ConnectionLimits>;
  /** The device's log lines for GET /v2/local/logs; without it the route does not exist. */
  logs?: LocalLogSource;
}

/**
 * The local device API (contract section 8), ready to `listen()` or `inject()`, on an HTTP server
 * fastify makes with the connection limits (tests; the agent builds its app with createApiApp).
 *
 * Every answer that is not a success is JSON `{ status: 'failed', message }`. Request logging is
 * off because the query string may carry the API key; failures are logged with the route
 * pattern only.
 */
export async function createApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const log = deps.log.child({ module: 'api' });
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...deps.connectionLimits };
  const app = Fastify({
    ...appOptions(deps, log),
    ...connectionOptions(limits),
    clientErrorHandler: clientErrorReply(log),
  }) as unknown as FastifyInstance;
  capConnections(app.server, limits.maxConnections, log);
  await setUp(app, deps);
  return app;
}

/**
 * The same API answering the requests of `server`, the agent's lazy front (src/api/front.ts),
 * which made the server, set its connection limits and answers its client errors long before
 * this module is loaded; this hands back fastify's request handler (its `serverFactory` option)
 * and leaves the listening to the front.
 */
export async function createApiApp(deps: ApiServerDeps, server: Server): Promise<BuiltApi> {
  const log = deps.log.child({ module: 'api' });
  let handle: RequestListener | undefined;
  const theirs = new Set(server.listeners('clientError'));
  const app = Fastify({
    ...appOptions(deps, log),
    serverFactory: (handler) => {
      handle = handler;
      return server;
    },
  }) as unknown as FastifyInstance;
  // Fastify hangs a client-error handler on any server it is handed: the front's answers them
  // already, and a second would answer twice (and each failed build would leave one more behind).
  for (const listener of server.listeners('clientError')) {
    if (!theirs.has(listener)) server.off('clientError', listener as (...args: unknown[]) => void);
  }
  if (!handle) throw new BosunError('EAPI_BUILD', 'fastify did not hand over its request handler');
  const handler = handle;
  await setUp(app, deps);
  return { handle: handler, close: () => app.close() };
}

/** Fastify's options for the API, whatever server it answers on. */
function appOptions(deps: ApiServerDeps, log: Logger) {
  return {
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? DEFAULT_BODY_LIMIT,
    frameworkErrors: frameworkErrorReply,
    schemaErrorFormatter: formatSchemaErrors,
    routerOptions: { ignoreTrailingSlash: true },
    // The schemas check JSON types only; coercion is input.ts's job, with field-named errors.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allowUnionTypes: true } },
  };
}

/** Key checks, error replies, body parsing and the routes; answers once fastify is ready. */
async function setUp(app: FastifyInstance, deps: ApiServerDeps): Promise<void> {
  const auth = createApiAuth(deps.facade);
  installErrorHandling(app, (request) => auth.scopedAppOf(request));
  installBodyParser(app);

  app.addHook('onRequest', async (request) => auth.authenticate(request));

  const ctx: RouteContext = {
    facade: deps.facade,
    auth,
    metrics: deps.metrics,
    localMode: deps.localMode,
    version: deps.version,
    hostInfo: deps.hostInfo ?? readHostInfo,
    lockTimeoutMs: deps.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS,
  };
  registerMiscRoutes(app, ctx);
  registerV1Routes(app, ctx);
  registerV2Routes(app, ctx);
  if (deps.logs) registerLogRoutes(app, ctx, deps.logs);

  await app.ready();
}

/**
 * Start listening and answer the port really bound (`port` 0 picks a free one), which the
 * agent passes to containers as BALENA_SUPERVISOR_PORT.
 */
export async function listen(app: FastifyInstance, address: string, port: number): Promise<number> {
  await app.listen({ host: address, port });
  const bound = app.server.address();
  if (bound === null || typeof bound !== 'object') {
    throw new BosunError('EAPI_LISTEN', `local API did not bind a TCP port on ${address}:${port}`);
  }
  return bound.port;
}
