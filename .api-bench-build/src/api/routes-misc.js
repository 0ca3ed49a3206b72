import { errorMessage } from '../util/errors.js';
import { failure } from './error-reply.js';
/** /ping, /v1/healthy (both open) and /metrics. */
export function registerMiscRoutes(app, ctx) {
    app.get('/ping', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('OK'));
    // The one endpoint that answers 500: a watchdog restarts the agent when polling or applying
    // has stalled. A health check that itself fails counts as unhealthy, with the reason.
    app.get('/v1/healthy', async (request, reply) => {
        let verdict;
        try {
            verdict = await ctx.facade.healthy();
        }
        catch (err) {
            request.log.warn({ err }, 'health check failed');
            verdict = { healthy: false, reason: `health check failed: ${errorMessage(err)}` };
        }
        if (verdict.healthy)
            return reply.type('text/plain; charset=utf-8').send('OK');
        return reply.code(500).send(failure(verdict.reason ?? 'unhealthy'));
    });
    app.get('/metrics', async (_request, reply) => {
        const text = await ctx.metrics.metrics();
        return reply.type(ctx.metrics.contentType).send(text);
    });
}
