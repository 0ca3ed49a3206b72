import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { LocalLogSource } from '../logs/local-stream.js';
import { toWireLine, type DeviceLogLine } from '../logs/types.js';
import type { RouteContext } from './context.js';

/**
 * A client that reads slower than the device logs gets this much queued, then is cut off: the
 * agent's memory must not depend on how fast someone reads.
 */
const MAX_QUEUED_BYTES = 1024 * 1024;
/**
 * An empty line this often keeps a quiet stream within the API's idle timeout (NDJSON readers
 * skip empty lines) and finds clients that are gone.
 */
const HEARTBEAT_MS = 30_000;

/**
 * `GET /v2/local/logs` (balena's local log stream): the device's recent log lines, then each new
 * one, as NDJSON `{ message, timestamp, serviceName?, isStderr?, isSystem? }`, until the client
 * goes. The global key sees every line; an app's key its own app's service lines only.
 */
export function registerLogRoutes(app: FastifyInstance, ctx: RouteContext, source: LocalLogSource): void {
  const open = new Set<PassThrough>();
  // Streams never end by themselves: end them, or closing the server would wait for ever.
  app.addHook('preClose', (done) => {
    for (const stream of open) stream.end();
    done();
  });

  app.get('/v2/local/logs', async (request, reply) => {
    const scope = ctx.auth.scopeOf(request);
    const visible = (line: DeviceLogLine) => scope.scope === 'global' || line.appId === scope.appId;
    const stream = new PassThrough();
    const send = (text: string) => {
      if (stream.writableLength > MAX_QUEUED_BYTES) {
        request.log.warn('local log stream client too slow; disconnected');
        stream.destroy();
        return;
      }
      stream.write(text);
    };
    const { recent, unsubscribe } = source.subscribe((line) => {
      if (visible(line)) send(`${JSON.stringify(toWireLine(line))}\n`);
    });
    const heartbeat = setInterval(() => send('\n'), HEARTBEAT_MS);
    const finish = () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(stream);
    };
    open.add(stream);
    stream.on('close', finish);
    reply.raw.on('close', () => stream.destroy());
    const backlog = recent.filter(visible).map((line) => `${JSON.stringify(toWireLine(line))}\n`);
    if (backlog.length > 0) stream.write(backlog.join(''));
    return reply.header('cache-control', 'no-cache').type('application/x-ndjson; charset=utf-8').send(stream);
  });
}
