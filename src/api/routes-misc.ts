import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../util/errors.js';
import type { RouteContext } from './context.js';
import { failure } from './error-reply.js';
import { keepSeriesOf } from './metrics-filter.js';

/** The label bosun's per-app series carry (src/api/metrics.ts). */
const APP_LABEL = 'app';

/** /ping, /v1/healthy (both open) and /metrics. */
export function registerMiscRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get('/ping', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('OK'));

  // The one endpoint that answers 500: a watchdog restarts the agent when polling or applying
  // has stalled. A health check that itself fails counts as unhealthy, with the reason.
  app.get('/v1/healthy', async (request, reply) => {
    let verdict: { healthy: boolean; reason?: string };
    try {
      verdict = await ctx.facade.healthy();
    } catch (err) {
      request.log.warn({ err }, 'health check failed');
      verdict = { healthy: false, reason: `health check failed: ${errorMessage(err)}` };
    }
    if (verdict.healthy) return reply.type('text/plain; charset=utf-8').send('OK');
    return reply.code(500).send(failure(verdict.reason ?? 'unhealthy'));
  });

  // An app's key sees its own app's series and the device-wide ones (no `app` label) only.
  app.get('/metrics', async (request, reply) => {
    const { contentType, text } = await ctx.metrics.scrape();
    const appId = ctx.auth.scopedAppOf(request);
    if (appId === undefined) return reply.type(contentType).send(text);
    // Series are labelled with app uuids; an app not on the device now has none to show.
    const device = await ctx.facade.view();
    const own = new Set(device.apps.filter((a) => a.appId === appId).map((a) => a.appUuid));
    return reply.type(contentType).send(keepSeriesOf(text, APP_LABEL, own));
  });
}
