/**
 * The local API for the agent's front (src/api/front.ts), imported when its first request comes
 * and not before: the dynamic import is what keeps fastify, its router and ajv, and the routes
 * out of an idle agent's memory, and what makes them a chunk of their own in the bundle (which
 * scripts/build/bundle.ts checks the agent does not load at start).
 */
import type { Server } from 'node:http';
import type { BuiltApi } from './front.js';
import type { ApiServerDeps } from './server.js';

export function lazyApiApp(deps: ApiServerDeps): (server: Server) => Promise<BuiltApi> {
  return async (server) => {
    const { createApiApp } = await import('./server.js');
    return createApiApp(deps, server);
  };
}
