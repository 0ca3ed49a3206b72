/**
 * Attack review #7: idle unauthenticated connections must not exhaust the agent's file
 * descriptors. The server caps its connections (the ones past the cap are closed at once) and
 * closes sockets that send nothing, so /ping answers again once they are gone.
 */
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_CONNECTION_LIMITS } from '../../../src/api/connection-limits.js';
import { listen } from '../../../src/api/server.js';
import { idleSocket, type IdleSocket, SMALL_CONNECTION_LIMITS } from '../../helpers/idle-socket.js';
import { waitFor } from '../../helpers/wait.js';
import { testApiServer } from '../../helpers/api-server.js';
import { FakeFacade } from '../../helpers/fake-facade.js';

const CAP = SMALL_CONNECTION_LIMITS.maxConnections;
const EXTRA = 50;
const LIMITS = SMALL_CONNECTION_LIMITS;

/** Open descriptors of this process (Linux). */
const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('src/api/server connection limits over a real socket on 127.0.0.1', () => {
  let app: FastifyInstance | undefined;
  const sockets: IdleSocket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.socket.destroy();
    await app?.close();
    app = undefined;
  });

  it('uses the named defaults: a cap of 256 and short request and keep-alive timeouts', async () => {
    app = await testApiServer(new FakeFacade());
    expect(app.server.maxConnections).toBe(DEFAULT_CONNECTION_LIMITS.maxConnections);
    expect(DEFAULT_CONNECTION_LIMITS.maxConnections).toBe(256);
    expect(app.server.requestTimeout).toBe(10_000);
    expect(app.server.headersTimeout).toBe(10_000);
    expect(app.server.keepAliveTimeout).toBe(5_000);
    expect(app.server.timeout).toBe(DEFAULT_CONNECTION_LIMITS.idleTimeoutMs);
  });

  it('refuses connections past the cap, keeps its descriptors bounded, and answers /ping once idle ones are closed', async () => {
    app = await testApiServer(new FakeFacade(), { connectionLimits: LIMITS });
    const port = await listen(app, '127.0.0.1', 0);
    const server = app.server;
    const connections = () =>
      new Promise<number>((resolve, reject) =>
        server.getConnections((err, count) => (err ? reject(err) : resolve(count))),
      );
    const before = openFds();

    for (let i = 0; i < CAP + EXTRA; i++) sockets.push(idleSocket(port));
    // The ones past the cap are closed at once, long before any timeout could close them.
    await waitFor(
      'the excess connections refused',
      () => sockets.filter((s) => s.closed).length >= EXTRA,
      2_000,
      10,
    );
    expect(await connections()).toBeLessThanOrEqual(CAP);
    // Our client sockets plus at most CAP on the server's side (not one per client socket).
    expect(openFds() - before).toBeLessThanOrEqual(CAP + EXTRA + CAP + 5);
    expect(sockets.filter((s) => s.closed && s.received === '').length).toBeGreaterThanOrEqual(EXTRA);

    // Sockets that send nothing are closed after the request timeout, with the JSON 408.
    await waitFor('every idle connection closed', () => sockets.every((s) => s.closed), 8_000, 20);
    expect(await connections()).toBe(0);
    const timedOut = sockets.filter((s) => s.received.startsWith('HTTP/1.1 408'));
    expect(timedOut.length).toBeGreaterThan(0);
    expect(timedOut[0]!.received).toContain('"status":"failed"');

    const ping = await fetch(`http://127.0.0.1:${port}/ping`);
    expect([ping.status, await ping.text()]).toEqual([200, 'OK']);
  });

  it('serves a fresh connection while fewer than the cap are open', async () => {
    app = await testApiServer(new FakeFacade(), { connectionLimits: LIMITS });
    const port = await listen(app, '127.0.0.1', 0);
    for (let i = 0; i < CAP - 2; i++) sockets.push(idleSocket(port));
    await waitFor('idle sockets connected', () => sockets.every((s) => !s.socket.connecting), 2_000, 10);
    const ping = await fetch(`http://127.0.0.1:${port}/ping`);
    expect([ping.status, await ping.text()]).toEqual([200, 'OK']);
  });
});
