/**
 * The local API's listening end, which builds the API itself on its first request (issue #15).
 *
 * Most devices' apps never call the local API, yet building it (fastify, its router, ajv compiling
 * every route's schema at ready()) cost an idle agent several MB of its memory at start. The
 * sockets cannot wait, though: containers are told the bound port (BALENA_SUPERVISOR_PORT) when
 * they are created, and a port that cannot be bound must fail the start, as it always did. So
 * the front listens at start on a plain node:http server that holds the connection cap and
 * timeouts of src/api/connection-limits.ts and answers client errors in the API's JSON from the
 * first connection on; `build` (src/api/lazy-app.ts: a dynamic import) runs on the first request,
 * which waits for it, as do the requests that arrive meanwhile. A build that fails is logged and
 * answered 500 `{ status: 'failed', message }` to each waiting request; the next one tries again.
 */
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { BosunError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { limitedServer, type ConnectionLimits } from './connection-limits.js';
import { clientErrorReply, failure } from './error-reply.js';

/** The API once built: its request handler, and how to close it (ends its log streams). */
export interface BuiltApi {
  handle: RequestListener;
  close(): Promise<void>;
}

export interface ApiFrontOptions {
  limits: ConnectionLimits;
  log: Logger;
  /** Builds the API answering on `server`; called on the first request, and again after a failure. */
  build: (server: Server) => Promise<BuiltApi>;
}

export class ApiFront {
  /** Every connection's server: the gateway listeners hand theirs to it too. */
  readonly server: Server;
  private readonly log: Logger;
  private built: BuiltApi | undefined;
  private building: Promise<BuiltApi> | undefined;
  private listening = false;
  private closing = false;

  constructor(private readonly options: ApiFrontOptions) {
    this.log = options.log.child({ module: 'api' });
    this.server = limitedServer(options.limits, this.log);
    this.server.on('clientError', clientErrorReply(this.log));
    this.server.on('request', (request, response) => this.serve(request, response));
  }

  /**
   * Listens on `address`:`port` and answers the port really bound (`port` 0 picks a free one);
   * rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL, ...) as the agent's start must.
   */
  async listen(address: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: address, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
    const bound = this.server.address();
    if (bound === null || typeof bound !== 'object') {
      throw new BosunError('EAPI_LISTEN', `local API did not bind a TCP port on ${address}:${port}`);
    }
    return bound.port;
  }

  /**
   * Stops accepting, closes the API if it was built (a build under way is waited for) and idle
   * connections, then waits for the requests in flight, as fastify's own close() did.
   */
  async close(): Promise<void> {
    const closed = this.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    this.listening = false;
    this.closing = true;
    const built = this.built ?? (await this.building?.catch(() => undefined));
    // (A build that failed was logged when it failed: there is nothing of it to close.)
    await built?.close();
    this.server.closeIdleConnections();
    await closed;
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    if (this.built) {
      this.built.handle(request, response);
      return;
    }
    // A request on a connection kept open past close() must not build what nobody would close.
    if (this.closing) {
      refuse(response, 503, 'the local API is closing');
      return;
    }
    this.build().then(
      (built) => built.handle(request, response),
      (err: unknown) => refuse(response, 500, `the local API could not be started: ${errorMessage(err)}`),
    );
  }

  /** One build for every request that arrives while it runs; forgotten if it fails. */
  private build(): Promise<BuiltApi> {
    if (this.building) return this.building;
    const started = performance.now();
    const building = this.options.build(this.server).then(
      (built) => {
        this.built = built;
        this.log.info(
          { ms: Math.round(performance.now() - started) },
          'local API built on its first request',
        );
        return built;
      },
      (err: unknown) => {
        this.building = undefined;
        this.log.error({ err }, 'local API could not be built; the next request tries again');
        throw err;
      },
    );
    this.building = building;
    return building;
  }
}

function refuse(response: ServerResponse, status: number, message: string): void {
  response
    .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
    .end(JSON.stringify(failure(message)));
}
