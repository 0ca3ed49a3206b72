import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
} from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../util/logger.js';
import type { ErrorBody } from './api-types.js';
import { deviceRoutes } from './device-routes.js';
import { FleetError } from './errors.js';
import { managerRoutes } from './manager-routes.js';
import { FleetStore, type TokenSource } from './store.js';

import { DEFAULT_FLEET_ADDRESS, DEFAULT_FLEET_DB, DEFAULT_FLEET_PORT } from './defaults.js';

export interface FleetServerOptions {
  /** 0 picks a free port. Default 48480. */
  port?: number;
  address?: string;
  dbFile?: string;
  /** The manager token; when absent, the one stored in the db (generated on first start). */
  token?: string;
  log?: Logger;
}

export interface FleetServer {
  url: string;
  port: number;
  token: string;
  tokenSource: TokenSource;
  dbFile: string;
  /** The server's storage, for tools that seed devices directly (benchmarks, the simulated fleet). */
  store: FleetStore;
  close(): Promise<void>;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml', 'text/plain'];

/** Builds the fastify app over a store; no listening, so tests and tools can inject. */
export function buildFleetApp(store: FleetStore, managerToken: string, log?: Logger): FastifyInstance {
  const app = Fastify({
    ...(log ? { loggerInstance: log as FastifyBaseLogger } : { logger: false }),
    // Per-request log lines would dominate the cost of a 304 poll.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 4 * 1024 * 1024,
  });
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (err instanceof FleetError) {
      const body: ErrorBody = { error: err.code, message: err.message };
      if (err.issues.length > 0) body.issues = err.issues;
      return reply.code(err.statusCode).send(body);
    }
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      request.log.error({ err }, 'fleet backend request failed');
      return reply
        .code(500)
        .send({ error: 'EFLEET_INTERNAL', message: 'internal error' } satisfies ErrorBody);
    }
    // fastify's own 4xx: malformed JSON, unsupported content type, body too large.
    return reply
      .code(status)
      .send({ error: err.code ?? 'EFLEET_BAD_INPUT', message: err.message } satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'EFLEET_NOT_FOUND', message: `no route ${request.method} ${request.url}` }),
  );
  deviceRoutes(app, store);
  managerRoutes(app, store, managerToken);
  return app;
}

/** Opens the db (migrating it) and serves the backend until close(). */
export async function startFleetServer(options: FleetServerOptions = {}): Promise<FleetServer> {
  const dbFile = options.dbFile ?? DEFAULT_FLEET_DB;
  const store = FleetStore.open(dbFile);
  const { token, source } = store.managerToken(options.token);
  const app = buildFleetApp(store, token, options.log);
  try {
    await app.listen({
      port: options.port ?? DEFAULT_FLEET_PORT,
      host: options.address ?? DEFAULT_FLEET_ADDRESS,
    });
  } catch (err) {
    store.close();
    throw err;
  }
  const { port, address, family } = app.server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    token,
    tokenSource: source,
    dbFile,
    store,
    close: async () => {
      await app.close();
      store.close();
    },
  };
}
