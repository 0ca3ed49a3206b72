import type { FastifyInstance } from 'fastify';
import type { DeviceLogPage } from './api-types.js';
import { bearerToken } from './auth.js';
import { badInput } from './errors.js';
import { MAX_LOG_BODY_BYTES, parseLogBatch } from './log-batch.js';
import { MAX_LOG_READ_LINES } from './log-store.js';
import type { LogWaiters } from './log-waiters.js';
import type { FleetStore } from './store.js';

const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson'];
const DEFAULT_TAIL = 100;
/** Lines a follower's page holds at most; it asks again at once while there are more. */
const FOLLOW_PAGE_LINES = 1000;
/** The longest a follower's request waits for new lines. */
export const MAX_LOG_WAIT_MS = 30_000;
/**
 * While waiting, the database is read again this often: lines another backend on the same
 * PostgreSQL database stores wake no waiter here.
 */
const LOG_RECHECK_MS = 1_000;

/** `POST /device/v2/:uuid/log-stream`: a device's batch of NDJSON log lines, with its key. */
export function deviceLogRoutes(app: FastifyInstance, store: FleetStore, waiters: LogWaiters): void {
  app.addContentTypeParser(NDJSON_TYPES, { parseAs: 'string' }, (_request, body, done) => done(null, body));
  app.post<{ Params: { uuid: string } }>(
    '/device/v2/:uuid/log-stream',
    { bodyLimit: MAX_LOG_BODY_BYTES },
    async (request, reply) => {
      const lines = parseLogBatch(request.body);
      const deviceId = await store.logs.append(
        request.params.uuid,
        bearerToken(request.headers.authorization),
        lines,
      );
      waiters.notify(deviceId);
      return reply.code(200).send({ status: 'ok', stored: lines.length });
    },
  );
}

type LogsRequest = {
  Params: { device: string };
  Querystring: { tail?: string; service?: string; after?: string; wait?: string };
};

/**
 * `GET /v1/devices/:device/logs?tail=N&service=NAME` (the newest N lines, default 100) and, to
 * follow, `?after=<id>&wait=<ms>`: the lines after that one, waiting up to `wait` (at most 30 s)
 * for some to come. `:device` is a uuid or a unique prefix of one. Behind the manager token.
 */
export function managerLogRoutes(scope: FastifyInstance, store: FleetStore, waiters: LogWaiters): void {
  scope.get<LogsRequest>('/v1/devices/:device/logs', async (request): Promise<DeviceLogPage> => {
    const query = request.query;
    const tail = wholeNumber(query.tail, 'tail', 1, MAX_LOG_READ_LINES);
    const after = wholeNumber(query.after, 'after', 0, Number.MAX_SAFE_INTEGER);
    const waitMs = wholeNumber(query.wait, 'wait', 0, MAX_LOG_WAIT_MS) ?? 0;
    const service = query.service === undefined || query.service === '' ? undefined : query.service;
    const device = await store.logs.resolve(request.params.device);
    if (after === undefined) {
      const lines = await store.logs.tail(device, { service, limit: tail ?? DEFAULT_TAIL });
      return { uuid: device.uuid, lines, last: lines.at(-1)?.id ?? 0 };
    }
    const limit = tail ?? FOLLOW_PAGE_LINES;
    const deadline = Date.now() + waitMs;
    for (;;) {
      const lines = await store.logs.after(device, after, { service, limit });
      const left = deadline - Date.now();
      if (lines.length > 0 || left <= 0 || waiters.closing) {
        return { uuid: device.uuid, lines, last: lines.at(-1)?.id ?? after };
      }
      await waiters.wait(device.id, Math.min(left, LOG_RECHECK_MS));
    }
  });
}

function wholeNumber(text: string | undefined, name: string, min: number, max: number): number | undefined {
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) {
    throw badInput(`${name} must be a whole number from ${min} to ${max}`);
  }
  return value;
}
