/**
 * The local API's lazy front (src/api/front.ts, issue #15): it listens at start, with the
 * connection limits, and builds the API on the first request only; requests arriving meanwhile
 * wait for that one build; a failed build answers 500 JSON and the next request tries again; a
 * port that cannot be bound fails the listen.
 */
import type { Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from '../../../src/api/connection-limits.js';
import { ApiFront, type BuiltApi } from '../../../src/api/front.js';
import { lazyApiApp } from '../../../src/api/lazy-app.js';
import { createMetrics } from '../../../src/api/metrics.js';
import { silentLogger, type Logger } from '../../../src/util/logger.js';
import { testApiServer } from '../../helpers/api-server.js';
import { FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';
import {
  idleSocket,
  rawExchange,
  type IdleSocket,
  SMALL_CONNECTION_LIMITS,
} from '../../helpers/idle-socket.js';
import { captureLog } from '../../helpers/log-capture.js';
import { rawApi } from '../../helpers/raw-api.js';
import { waitFor } from '../../helpers/wait.js';

const CAP = SMALL_CONNECTION_LIMITS.maxConnections;
const EXTRA = 30;
const LIMITS = SMALL_CONNECTION_LIMITS;

/** The real API (src/api/lazy-app.ts's import) over a FakeFacade, counting its builds. */
function countedBuild(facade = new FakeFacade()) {
  const counted = { builds: 0 };
  const real = lazyApiApp({
    facade,
    log: silentLogger(),
    metrics: createMetrics(),
    localMode: false,
    version: '0.0.0',
  });
  const build = (server: Server): Promise<BuiltApi> => {
    counted.builds += 1;
    return real(server);
  };
  return { counted, build };
}

/** A build held until `release()` (or failed by `fail()`), to see who waits for it. */
function heldBuild(inner: (server: Server) => Promise<BuiltApi>) {
  let release!: () => void;
  let fail!: (err: Error) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  const state = { started: 0 };
  const build = async (server: Server): Promise<BuiltApi> => {
    state.started += 1;
    await gate;
    return inner(server);
  };
  return { build, state, release: () => release(), fail: (err: Error) => fail(err) };
}

let front: ApiFront | undefined;
let blocker: TcpServer | undefined;
const sockets: IdleSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.socket.destroy();
  await front?.close();
  front = undefined;
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

function startFront(
  build: (server: Server) => Promise<BuiltApi>,
  options: { limits?: ConnectionLimits; log?: Logger } = {},
) {
  front = new ApiFront({
    limits: options.limits ?? DEFAULT_CONNECTION_LIMITS,
    log: options.log ?? silentLogger(),
    build,
  });
  return front;
}

describe('src/api/front: built on the first request', () => {
  it('listens without building, then builds once on the first request and serves every route from then on', async () => {
    const { counted, build } = countedBuild();
    const port = await startFront(build).listen('127.0.0.1', 0);
    const idle = idleSocket(port);
    sockets.push(idle);
    await waitFor('connected', () => !idle.socket.connecting, 2_000, 10);
    expect(counted.builds).toBe(0);

    expect(await rawApi(port, 'GET', '/ping')).toMatchObject({ status: 200, text: 'OK' });
    expect(counted.builds).toBe(1);
    expect((await rawApi(port, 'GET', '/v1/device')).status).toBe(401);
    // The routes see the front's server: the port they report is the one it bound.
    const device = await rawApi(port, 'GET', '/v1/device', {
      headers: { Authorization: `Bearer ${GLOBAL_KEY}` },
    });
    expect(device.status).toBe(200);
    expect(device.body).toMatchObject({ api_port: port });
    expect(counted.builds).toBe(1);
  });

  it('answers every request that arrives during the build, from that one build', async () => {
    const held = heldBuild(countedBuild().build);
    const port = await startFront(held.build).listen('127.0.0.1', 0);
    const replies = Promise.all(Array.from({ length: 12 }, () => rawApi(port, 'GET', '/ping')));
    await waitFor('the build started', () => held.state.started === 1, 2_000, 10);
    held.release();
    const answered = await replies;
    expect(answered.map((r) => [r.status, r.text])).toEqual(Array.from({ length: 12 }, () => [200, 'OK']));
    expect(held.state.started).toBe(1);
  });

  it('answers 500 JSON to the requests waiting on a failed build, logs it, and builds again on the next request', async () => {
    const { log, text } = captureLog();
    const held = heldBuild(countedBuild().build);
    let attempts = 0;
    const build = (server: Server): Promise<BuiltApi> => {
      attempts += 1;
      return attempts === 1 ? held.build(server) : countedBuild().build(server);
    };
    const port = await startFront(build, { log }).listen('127.0.0.1', 0);
    const waiting = Promise.all([rawApi(port, 'GET', '/ping'), rawApi(port, 'GET', '/v2/version')]);
    await waitFor('the build started', () => held.state.started === 1, 2_000, 10);
    held.fail(new Error('chunk missing'));
    for (const reply of await waiting) {
      expect(reply.status).toBe(500);
      expect(reply.body).toEqual({
        status: 'failed',
        message: 'the local API could not be started: chunk missing',
      });
    }
    expect(text()).toContain('local API could not be built');
    expect(text()).toContain('chunk missing');

    expect(await rawApi(port, 'GET', '/ping')).toMatchObject({ status: 200, text: 'OK' });
    expect(attempts).toBe(2);
  });

  it('fails the listen on a port that cannot be bound, building nothing', async () => {
    blocker = createTcpServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as { port: number }).port;
    const { counted, build } = countedBuild();
    await expect(startFront(build).listen('127.0.0.1', taken)).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(counted.builds).toBe(0);
  });

  it('closes a build under way and what it built', async () => {
    const closed: string[] = [];
    const held = heldBuild(async (server) => {
      const built = await countedBuild().build(server);
      return { handle: built.handle, close: () => built.close().then(() => void closed.push('app')) };
    });
    const port = await startFront(held.build).listen('127.0.0.1', 0);
    const reply = rawApi(port, 'GET', '/ping');
    await waitFor('the build started', () => held.state.started === 1, 2_000, 10);
    const closing = front!.close();
    held.release();
    await closing;
    front = undefined;
    expect(closed).toEqual(['app']);
    // The request that waited was served by the app before it closed, or told it is closing.
    expect([200, 503]).toContain((await reply).status);
  });
});

describe('src/api/front: the connection limits hold before and after the build', () => {
  it('sets the same cap and timeouts on its server as fastify sets on its own', async () => {
    const app = await testApiServer(new FakeFacade());
    const { build } = countedBuild();
    const server = startFront(build).server;
    const limitsOf = (s: Server) => ({
      maxConnections: s.maxConnections,
      requestTimeout: s.requestTimeout,
      headersTimeout: s.headersTimeout,
      keepAliveTimeout: s.keepAliveTimeout,
      timeout: s.timeout,
    });
    expect(limitsOf(server)).toEqual(limitsOf(app.server));
    expect(limitsOf(server)).toEqual({
      maxConnections: 256,
      requestTimeout: 10_000,
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
      timeout: DEFAULT_CONNECTION_LIMITS.idleTimeoutMs,
    });
    await app.close();
  });

  it.each([
    ['before the first request', false],
    ['after the API is built', true],
  ])('refuses connections past the cap and closes idle ones with a JSON 408 %s', async (_when, built) => {
    const { counted, build } = countedBuild();
    const port = await startFront(build, { limits: LIMITS }).listen('127.0.0.1', 0);
    if (built) expect((await rawApi(port, 'GET', '/ping')).status).toBe(200);

    for (let i = 0; i < CAP + EXTRA; i++) sockets.push(idleSocket(port));
    await waitFor(
      'the excess connections refused',
      () => sockets.filter((s) => s.closed).length >= EXTRA,
      2_000,
      10,
    );
    expect(sockets.filter((s) => s.closed && s.received === '').length).toBeGreaterThanOrEqual(EXTRA);
    await waitFor('every idle connection closed', () => sockets.every((s) => s.closed), 8_000, 20);
    const timedOut = sockets.filter((s) => s.received.startsWith('HTTP/1.1 408'));
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut[0]!.received).toContain('"status":"failed"');
    expect(counted.builds).toBe(built ? 1 : 0);

    expect(await rawApi(port, 'GET', '/ping')).toMatchObject({ status: 200, text: 'OK' });
  });

  it.each([
    ['before the first request', false],
    ['after the API is built', true],
  ])('answers a request that is not HTTP once, in JSON, %s', async (_when, built) => {
    const { counted, build } = countedBuild();
    const port = await startFront(build).listen('127.0.0.1', 0);
    if (built) expect((await rawApi(port, 'GET', '/ping')).status).toBe(200);
    const raw = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(raw.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('{"status":"failed","message":"the request is not valid HTTP"}');
    expect(counted.builds).toBe(built ? 1 : 0);
  });
});
