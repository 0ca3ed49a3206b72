import type { FastifyInstance } from 'fastify';
import { createMetrics } from '../../src/api/metrics.js';
import { createApiServer, type ApiServerDeps } from '../../src/api/server.js';
import { silentLogger } from '../../src/util/logger.js';
import type { FakeFacade } from './fake-facade.js';

/**
 * The real local API server over a FakeFacade, for unit tests (inject() or a socket): a silent
 * log and a fresh metrics registry unless the test gives its own.
 */
export function testApiServer(
  facade: FakeFacade,
  over: Partial<Omit<ApiServerDeps, 'facade'>> = {},
): Promise<FastifyInstance> {
  return createApiServer({
    facade,
    log: silentLogger(),
    metrics: createMetrics(),
    localMode: false,
    version: '0.0.0',
    ...over,
  });
}
