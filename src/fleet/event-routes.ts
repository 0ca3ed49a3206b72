import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { ErrorBody } from './api-types.js';
import type { FleetChangeFeed, FleetScope } from './change-feed.js';
import type { FleetStore } from './store.js';

/**
 * Changes of one fleet come in bursts (a push makes every device report several times); a
 * stream says "changed" at once, then at most once per this interval, so a page reads again a
 * few times a second at most however large the fleet.
 */
export const CHANGE_COALESCE_MS = 250;
/** A comment line this often keeps proxies from closing an idle stream and finds dead peers. */
const HEARTBEAT_MS = 20_000;
/** What EventSource-style readers wait before they connect again after the stream ends. */
const RECONNECT_MS = 3_000;

/**
 * `GET /v1/events?fleet=NAME`: server-sent events for the dashboard, behind the manager token
 * like the rest of /v1 (the dashboard reads it with fetch, so the token stays in the header).
 * `event: ready` once subscribed, then `event: change` whenever the fleet (or, without
 * `fleet`, any fleet) changed: the reader reads what it shows again. 503 when the backend
 * already holds its maximum of streams.
 */
export function eventRoutes(scope: FastifyInstance, store: FleetStore, feed: FleetChangeFeed): void {
  scope.get<{ Querystring: { fleet?: string } }>('/v1/events', async (request, reply) => {
    const name = request.query.fleet;
    const fleetScope: FleetScope =
      name === undefined || name === '' ? undefined : (await store.fleets.require(name)).id;
    const stream = new ChangeStream(reply.raw);
    const stopListening = feed.listen(
      fleetScope,
      () => stream.changed(),
      () => stream.end(),
    );
    if (!stopListening) {
      return reply
        .code(503)
        .header('retry-after', String(RECONNECT_MS / 1000))
        .send({
          error: 'EFLEET_TOO_MANY_STREAMS',
          message: `this backend already serves ${feed.maxListeners} event streams; retry later`,
        } satisfies ErrorBody);
    }
    reply.hijack();
    request.raw.socket.setTimeout(0);
    stream.start();
    // The peer went away (tab closed, page changed): stop listening and free the timers.
    const hangUp = () => {
      stopListening();
      stream.end();
    };
    reply.raw.on('close', hangUp);
    // It may have gone while the fleet was looked up, before there was a listener.
    if (request.raw.destroyed || reply.raw.destroyed) hangUp();
  });
}

/** One open text/event-stream response: coalesced change events and a heartbeat. */
class ChangeStream {
  private lastSentAt = 0;
  private pending: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private ended = false;

  constructor(private readonly response: ServerResponse) {}

  start(): void {
    this.response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Proxies that buffer responses (nginx) would hold the events back.
      'x-accel-buffering': 'no',
      // The socket goes with the stream: a kept-alive socket left idle after the server ended
      // the stream at close would hold the closing server open until its keep-alive timeout.
      connection: 'close',
    });
    this.response.write(`retry: ${RECONNECT_MS}\nevent: ready\ndata: {}\n\n`);
    this.heartbeat = setInterval(() => this.response.write(': keep-alive\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  changed(): void {
    if (this.ended || this.pending) return;
    const wait = this.lastSentAt + CHANGE_COALESCE_MS - Date.now();
    if (wait <= 0) return this.send();
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.send();
    }, wait);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.pending);
    clearInterval(this.heartbeat);
    this.response.end();
  }

  private send(): void {
    if (this.ended) return;
    this.lastSentAt = Date.now();
    this.response.write('event: change\ndata: {}\n\n');
  }
}
