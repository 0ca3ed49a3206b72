import { createServer, type Server, type ServerOptions } from 'node:http';
import type { Logger } from '../util/logger.js';

/** Refused connections are logged at most this often: a flood must not flood the log as well. */
const DROP_LOG_INTERVAL_MS = 60_000;

/**
 * How many connections, and for how long, the local API keeps open. Anything on the device can
 * connect without a key, so these bound what an idle or slow client costs: 20,000 idle
 * connections once took every file descriptor of the agent, and with them /ping and the Docker
 * socket the reconcile loop needs (attack review #7).
 */
export interface ConnectionLimits {
  /**
   * Open connections at most; the ones past it are closed as soon as they are accepted, so a
   * flood costs the agent one descriptor per connection for an instant, not for good. 256 is far
   * more than a device's apps use side by side, and leaves most of a 1024-descriptor limit to
   * the engine socket, lock files and logs.
   */
  maxConnections: number;
  /** A request's headers and body must have arrived this long after the connection opened. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /**
   * A socket with no traffic either way for this long is closed, whatever it waits for: the
   * backstop for a client that stops reading its answer. It must outlast the slowest action
   * (restart: a 10 s lock wait, the stop, then up to 60 s until the app runs again).
   */
  idleTimeoutMs: number;
  /** How often Node checks connections against requestTimeoutMs (its default is 30 s). */
  checkIntervalMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 256,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  checkIntervalMs: 1_000,
};

/** Fastify's server options for `limits`; maxConnections is set on the server (fastify has none). */
export function connectionOptions(limits: ConnectionLimits): {
  connectionTimeout: number;
  keepAliveTimeout: number;
  requestTimeout: number;
  http: ServerOptions;
} {
  return {
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks a connection that has sent nothing at all against the headers timeout too,
    // which is what closes an idle unauthenticated socket.
    http: {
      headersTimeout: limits.requestTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.checkIntervalMs,
    },
  };
}

/** Caps `server`'s connections and logs the refused ones, counted, at most once a minute. */
export function capConnections(server: Server, maxConnections: number, log: Logger): void {
  server.maxConnections = maxConnections;
  let refused = 0;
  let loggedAt = -Infinity;
  server.on('drop', () => {
    refused += 1;
    const now = Date.now();
    if (now - loggedAt < DROP_LOG_INTERVAL_MS) return;
    log.warn({ refused, maxConnections }, 'local API refused connections: too many open');
    refused = 0;
    loggedAt = now;
  });
}

/**
 * A plain node:http server holding `limits` exactly as fastify sets them on a server it makes
 * from connectionOptions (its lib/server.js), capped as capConnections caps it: the lazy front
 * (src/api/front.ts) listens before fastify is loaded, and must be as hard to exhaust from the
 * first connection on.
 */
export function limitedServer(limits: ConnectionLimits, log: Logger): Server {
  const options = connectionOptions(limits);
  const server = createServer(options.http);
  server.keepAliveTimeout = options.keepAliveTimeout;
  server.requestTimeout = options.requestTimeout;
  server.setTimeout(options.connectionTimeout);
  capConnections(server, limits.maxConnections, log);
  return server;
}
