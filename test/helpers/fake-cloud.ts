import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1 standing in for the cloud, with scripted answers per route and
 * a record of every request (headers and body included), so tests see exactly what went on the
 * wire.
 */

export interface RecordedRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Date.now() when the request arrived. */
  at: number;
}

export type ScriptedResponse =
  | { status: number; headers?: Record<string, string>; body?: string | object; delayMs?: number }
  /** Destroy the socket without answering (connection reset). */
  | { destroy: true }
  /** Never answer (the client's timeout must fire). */
  | { hang: true }
  | ((req: RecordedRequest) => ScriptedResponse);

/** `GET /device/v3/abc/state`: method, a space, the path without query. */
export type RouteKey = string;

export class FakeCloud {
  readonly requests: RecordedRequest[] = [];
  /** The most requests that were being answered at the same time. */
  maxConcurrent = 0;
  private open = 0;
  private readonly scripts = new Map<RouteKey, ScriptedResponse[]>();
  private readonly fallbacks = new Map<RouteKey, ScriptedResponse>();
  private readonly sockets = new Set<Socket>();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeCloud> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeCloud(server, `http://127.0.0.1:${port}`);
    server.on('connection', (socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    server.on('request', (req, res) => void fake.handle(req, res));
    return fake;
  }

  /** Answers for the next requests to a route, in order; then the route's fallback applies. */
  script(route: RouteKey, ...responses: ScriptedResponse[]): this {
    const queue = this.scripts.get(route) ?? [];
    queue.push(...responses);
    this.scripts.set(route, queue);
    return this;
  }

  /** The answer for a route once its script is used up (unscripted routes answer 404). */
  fallback(route: RouteKey, response: ScriptedResponse): this {
    this.fallbacks.set(route, response);
    return this;
  }

  requestsTo(route: RouteKey): RecordedRequest[] {
    return this.requests.filter((r) => `${r.method} ${r.url.split('?')[0]}` === route);
  }

  /** Resolves once `count` requests in all have arrived; rejects after `timeoutMs`. */
  async waitForRequests(count: number, timeoutMs = 5000): Promise<RecordedRequest[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `fake cloud: waited ${timeoutMs} ms for ${count} requests, got ${this.requests.length}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests.slice(0, count);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      at: Date.now(),
    };
    this.requests.push(recorded);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();

    const route = `${recorded.method} ${recorded.url.split('?')[0]}`;
    let answer: ScriptedResponse = this.scripts.get(route)?.shift() ??
      this.fallbacks.get(route) ?? { status: 404, body: { message: `fake cloud: no script for ${route}` } };
    while (typeof answer === 'function') answer = answer(recorded);

    if ('destroy' in answer) {
      req.socket.destroy();
      return;
    }
    if ('hang' in answer) return;
    this.open += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.open);
    res.on('close', () => (this.open -= 1));
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    const headers: Record<string, string> = { ...answer.headers };
    let body = '';
    if (typeof answer.body === 'string') {
      body = answer.body;
    } else if (answer.body !== undefined) {
      body = JSON.stringify(answer.body);
      headers['content-type'] ??= 'application/json';
    }
    res.writeHead(answer.status, headers);
    res.end(body);
  }
}
