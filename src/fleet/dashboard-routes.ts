import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from './api-types.js';
import type { DashboardAsset } from './dashboard-assets.js';
import { ifNoneMatchHits } from './target-document.js';

/**
 * Only this origin's files and API: no script, style or connection to another host, no inline
 * script, no framing. Styles set through the CSSOM (progress bars) are not style attributes.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The dashboard (contract section 12): `GET /` is its page and `GET /assets/<file>` its files,
 * public like any sign-in page; everything it shows comes from /v1 with the manager token.
 */
export function dashboardRoutes(
  app: FastifyInstance,
  assets: Map<string, DashboardAsset>,
  directory?: string,
): void {
  app.get('/', (request, reply) => {
    const page = assets.get('index.html');
    if (!page) {
      return reply.code(404).send({
        error: 'EFLEET_NO_DASHBOARD',
        message: `the dashboard's files are missing (looked in ${directory ?? 'no package directory'}); run npm run build`,
      } satisfies ErrorBody);
    }
    return sendAsset(request, reply, page);
  });
  app.get<{ Params: { file: string } }>('/assets/:file', (request, reply) => {
    const asset = request.params.file === 'index.html' ? undefined : assets.get(request.params.file);
    if (!asset) {
      return reply.code(404).send({
        error: 'EFLEET_NOT_FOUND',
        message: `no dashboard file ${request.params.file}`,
      } satisfies ErrorBody);
    }
    return sendAsset(request, reply, asset);
  });
}

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: DashboardAsset): FastifyReply {
  reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    // Small files: the browser asks each time and gets a 304 while they are the same.
    .header('cache-control', 'no-cache')
    .header('etag', asset.etag);
  if (ifNoneMatchHits(request.headers['if-none-match'], asset.etag)) return reply.code(304).send();
  return reply.type(asset.contentType).send(asset.body);
}
