/**
 * The dashboard's side of the backend over real HTTP: its public page and files, and the live
 * change stream (`GET /v1/events`, server-sent events behind the manager token): what a
 * stream hears, its cap, its end when the server closes, and, on a shared PostgreSQL
 * database, the changes another backend made.
 */
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { openEventStream, type EventStreamReader } from '../../helpers/event-stream.js';
import { TestDatabases } from '../../helpers/fleet-databases.js';
import { httpCall } from '../../helpers/fleet-http.js';
import { waitFor } from '../../helpers/wait.js';

const TOKEN = 'manager-token-events';
const compose = (image: string) => `services:\n  main:\n    image: ${image}\n    network_mode: none\n`;

describe('fleet backend: dashboard files and change streams', () => {
  const sqlite = new TestDatabases('sqlite');
  const postgres = new TestDatabases('postgres');
  const servers: FleetServer[] = [];
  const streams: EventStreamReader[] = [];

  const start = async (
    options: { database?: string; maxEventStreams?: number; sharedRecheckMs?: number } = {},
  ) => {
    const server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      token: TOKEN,
      ...options,
      database: options.database ?? (await sqlite.fresh()),
    });
    servers.push(server);
    return server;
  };
  const stream = async (server: FleetServer, fleet?: string, token: string | null = TOKEN) => {
    const reader = await openEventStream(server.url, token ?? undefined, fleet);
    streams.push(reader);
    return reader;
  };
  const manager = (server: FleetServer, method: string, route: string, body?: unknown) =>
    httpCall(server.url, method, route, { key: TOKEN, body });
  const push = (server: FleetServer, fleet: string, image: string) =>
    httpCall(server.url, 'POST', `/v1/fleets/${fleet}/releases`, {
      key: TOKEN,
      raw: compose(image),
      headers: { 'content-type': 'application/yaml' },
    });

  afterEach(async () => {
    for (const reader of streams.splice(0)) reader.close();
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  afterAll(async () => {
    await Promise.all([sqlite.dispose(), postgres.dispose()]);
  });

  it('serves the page and its files to anyone, with a policy that allows only this origin', async () => {
    const server = await start();
    const page = await httpCall(server.url, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('/assets/main.js');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    expect(page.headers['content-security-policy']).toContain("connect-src 'self'");

    const script = await httpCall(server.url, 'GET', '/assets/main.js');
    expect(script.status).toBe(200);
    expect(script.headers['content-type']).toMatch(/^text\/javascript/);
    const again = await httpCall(server.url, 'GET', '/assets/main.js', {
      headers: { 'if-none-match': String(script.headers.etag) },
    });
    expect(again.status).toBe(304);

    for (const route of ['/assets/nothing.js', '/assets/..%2Fpackage.json', '/assets/index.html']) {
      const missing = await httpCall(server.url, 'GET', route);
      expect([route, missing.status, missing.json().error]).toEqual([route, 404, 'EFLEET_NOT_FOUND']);
    }
  });

  it('refuses a stream without the manager token (401) and of an unknown fleet (404)', async () => {
    const server = await start();
    expect((await stream(server, undefined, null)).status).toBe(401);
    expect((await stream(server, undefined, 'wrong')).status).toBe(401);
    expect((await stream(server, 'nowhere')).status).toBe(404);
  });

  it("tells a fleet's streams when a manager or one of its devices changes it", async () => {
    const server = await start();
    const kitchen = (await manager(server, 'POST', '/v1/fleets', { name: 'kitchen' })).json();
    await manager(server, 'POST', '/v1/fleets', { name: 'garage' });
    const ofKitchen = await stream(server, 'kitchen');
    const ofAll = await stream(server);
    expect(ofKitchen.status).toBe(200);
    expect(ofKitchen.headers['content-type']).toMatch(/^text\/event-stream/);
    await Promise.all([ofKitchen.waitFor('ready'), ofAll.waitFor('ready')]);

    expect((await push(server, 'garage', 'app:1')).status).toBe(201);
    await ofAll.waitFor('change', 1);

    expect((await push(server, 'kitchen', 'app:1')).status).toBe(201);
    await ofKitchen.waitFor('change', 1);

    const register = await httpCall(server.url, 'POST', '/device/register', {
      key: kitchen.provisioningKey,
      body: { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey: 'device-key-0001' },
    });
    expect(register.status).toBe(201);
    await ofKitchen.waitFor('change', 2);

    const report = await httpCall(server.url, 'PATCH', '/device/v3/state', {
      key: 'device-key-0001',
      body: { 'device-0001': { status: 'Idle' } },
    });
    expect(report.status).toBe(200);
    await ofKitchen.waitFor('change', 3);

    const release = (await manager(server, 'GET', '/v1/fleets/kitchen/releases')).json()[0];
    expect(
      (await manager(server, 'POST', '/v1/devices/device-0001/pin', { release: release.commit })).status,
    ).toBe(200);
    await ofKitchen.waitFor('change', 4);
    // A refused change changes nothing, and says nothing.
    expect((await manager(server, 'POST', '/v1/devices/device-0001/pin', { release: 'nope' })).status).toBe(
      404,
    );
  });

  it('holds at most maxEventStreams streams (503 beyond) and frees a slot when one closes', async () => {
    const server = await start({ maxEventStreams: 1 });
    await manager(server, 'POST', '/v1/fleets', { name: 'kitchen' });
    const first = await stream(server, 'kitchen');
    await first.waitFor('ready');
    const refused = await stream(server, 'kitchen');
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('3');

    first.close();
    const next = await waitFor('a slot once the first stream closed', async () => {
      const candidate = await stream(server, 'kitchen');
      return candidate.status === 200 ? candidate : undefined;
    });
    await next.waitFor('ready');
  });

  it('ends open streams when the server closes', async () => {
    const server = await start();
    const open = await stream(server);
    await open.waitFor('ready');
    await servers.splice(servers.indexOf(server), 1)[0]!.close();
    await waitFor('the stream to end', () => open.ended(), 5_000, 20);
  });

  it('on a shared PostgreSQL database, tells its streams what another backend changed', async () => {
    const database = await postgres.fresh();
    const first = await start({ database, sharedRecheckMs: 200 });
    const second = await start({ database, sharedRecheckMs: 200 });
    await manager(first, 'POST', '/v1/fleets', { name: 'kitchen' });
    const ofKitchen = await stream(second, 'kitchen');
    await ofKitchen.waitFor('ready');
    // The recheck's first look after the stream opened only records what it sees: a push made
    // before it is not news. So push again until the second backend's stream hears of one.
    let pushes = 0;
    await waitFor(
      "a change made through the first backend, on the second one's stream",
      async () => {
        if (ofKitchen.events.includes('change')) return true;
        pushes += 1;
        expect((await push(first, 'kitchen', `app:${pushes}`)).status).toBe(201);
        return false;
      },
      10_000,
      400,
    );
    expect(pushes).toBeLessThanOrEqual(3);
  });
});
