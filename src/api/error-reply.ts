import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import type { Socket } from 'node:net';
import { BosunError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import {
  BadRequestError,
  ForbiddenError,
  LockedError,
  UnauthorizedError,
  UnknownTargetError,
} from './errors.js';

/** The one error shape of the local API (contract section 8). */
export interface FailureBody {
  status: 'failed';
  message: string;
}

export function failure(message: string): FailureBody {
  return { status: 'failed', message };
}

/**
 * Fastify's own client errors (body too large, bad content length, bad URL, ...) keep their 4xx
 * status; the rest are mapped to the contract's codes.
 */
const FASTIFY_OVERRIDES: Record<string, { statusCode: number; message: string }> = {
  // The contract has no 415: a malformed Content-Type header is bad input.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { statusCode: 400, message: 'the Content-Type header is malformed' },
  // Fastify's messages for these two echo the URL, query (and so the API key) included.
  FST_ERR_BAD_URL: { statusCode: 400, message: 'the URL is malformed (bad percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { statusCode: 400, message: 'a path parameter is too long' },
};

/**
 * The status code and message for any error a request can raise. Bosun's errors map by class;
 * fastify's 4xx errors keep their code; everything else (engine down, engine refused, a bug)
 * is a 503 so a client retries later, and never a 500 (kept for /v1/healthy).
 */
export function classifyError(err: unknown): { statusCode: number; message: string } {
  if (err instanceof UnauthorizedError) return { statusCode: 401, message: err.message };
  if (err instanceof ForbiddenError) return { statusCode: 403, message: err.message };
  if (err instanceof BadRequestError) return { statusCode: 400, message: err.message };
  if (err instanceof UnknownTargetError) return { statusCode: 404, message: err.message };
  if (err instanceof LockedError) return { statusCode: 423, message: err.message };
  if (err instanceof BosunError) return { statusCode: 503, message: err.message };
  const fastifyError = err as Partial<FastifyError> | null;
  if (fastifyError && typeof fastifyError === 'object') {
    if (fastifyError.validation) return { statusCode: 400, message: String(fastifyError.message) };
    const code = fastifyError.code;
    if (typeof code === 'string' && code.startsWith('FST_')) {
      const override = FASTIFY_OVERRIDES[code];
      if (override) return override;
      const status = fastifyError.statusCode;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        return { statusCode: status, message: String(fastifyError.message) };
      }
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  return { statusCode: 503, message: `internal error: ${message}` };
}

/** Said to an app's key that a device-wide action (reboot, shutdown) met another app's lock. */
export const OTHER_APP_LOCKED_MESSAGE =
  "another app's update lock blocks this; the device-wide API key sees which";

/**
 * The message for the app a request speaks for (`viewerAppId`, undefined for the global key): an
 * app's key must not learn another app's id or lock paths from a 423 (contract section 8).
 */
function messageFor(err: unknown, message: string, viewerAppId: number | undefined): string {
  if (viewerAppId === undefined || !(err instanceof LockedError)) return message;
  return err.appId === viewerAppId ? message : OTHER_APP_LOCKED_MESSAGE;
}

/** Which app a request speaks for; undefined for the device-wide key. */
export type ViewerOf = (request: FastifyRequest) => number | undefined;

function sendFailure(
  err: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
  viewerOf: ViewerOf = () => undefined,
): FastifyReply {
  const classified = classifyError(err);
  const statusCode = classified.statusCode;
  const message = messageFor(err, classified.message, viewerOf(request));
  // The route pattern, never the raw URL: the query may carry an API key.
  const route = request.routeOptions.url ?? '(no route)';
  if (statusCode >= 500) {
    request.log.warn({ err, method: request.method, route, statusCode }, 'local API request failed');
  } else {
    request.log.debug(
      { method: request.method, route, statusCode, reason: message },
      'local API request refused',
    );
  }
  return reply.code(statusCode).type('application/json; charset=utf-8').send(failure(message));
}

/** For fastify's `schemaErrorFormatter` option: name the field, e.g. "force must be boolean,...". */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const first = errors[0];
  const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
  const subject = path || (dataVar === 'body' ? 'request body' : dataVar);
  const problem = first?.message ?? 'is invalid';
  return new BadRequestError(
    `${subject} ${problem === 'must be object' ? 'must be a JSON object' : problem}`,
  );
}

/** For fastify's `frameworkErrors` option: bad URL encoding, over-long path parameters. */
export function frameworkErrorReply(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void sendFailure(err, request, reply);
}

/**
 * For fastify's `clientErrorHandler`: requests too broken to reach a route (malformed HTTP,
 * headers over Node's limit, a request that timed out) still get the contract's JSON shape.
 * Fastify's default logs the parser error, whose raw packet can hold the Authorization header;
 * this logs the error code only.
 */
export function clientErrorReply(log: Logger): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const [status, reason, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request took too long to arrive']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'the request headers are too large']
          : [400, 'Bad Request', 'the request is not valid HTTP'];
    log.debug({ code: err.code, status }, 'local API client error');
    const body = JSON.stringify(failure(message));
    if (socket.writable) {
      socket.write(
        `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroy();
  };
}

/** The methods registered for the path pattern that matches `path`, for 405 and `Allow`. */
export function allowedMethods(
  routes: ReadonlyArray<{ method: string; url: string }>,
  path: string,
): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (routePattern(route.url).test(path)) methods.add(route.method);
  }
  return [...methods].sort();
}

function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * Error handler, 404 and 405 for `app`. Routes are collected as they are registered so that a
 * known path asked with the wrong method answers 405 with `Allow`, not a misleading 404.
 * `viewerOf` names the app an app-scoped request speaks for, so failures are worded for it.
 */
export function installErrorHandling(app: FastifyInstance, viewerOf?: ViewerOf): void {
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) routes.push({ method: String(method), url: route.url });
  });

  app.setErrorHandler((err, request, reply) => sendFailure(err, request, reply, viewerOf));

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    const shownPath = path.length > 200 ? `${path.slice(0, 200)}...` : path;
    const allowed = allowedMethods(routes, path);
    if (allowed.length > 0) {
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(
          failure(`method ${request.method} is not allowed on ${shownPath}; use ${allowed.join(' or ')}`),
        );
    }
    return reply.code(404).send(failure(`no such endpoint: ${request.method} ${shownPath}`));
  });
}
