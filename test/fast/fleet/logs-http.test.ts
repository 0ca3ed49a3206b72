import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { printDeviceLogs } from '../../../src/fleet/cli-logs.js';
import { FleetClient } from '../../../src/fleet/client.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { waitFor } from '../../helpers/wait.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';
import { httpCall, type HttpAnswer } from '../../helpers/fleet-http.js';

const TOKEN = 'manager-token-for-log-tests';
const UUID = 'feed0001-logs-device';
const KEY = 'device-key-logs-0001';

const ndjson = (...lines: object[]) => lines.map((l) => `${JSON.stringify(l)}\n`).join('');
const at = (n: number) => 1_772_600_000_000 + n;

describe.each(FLEET_BACKENDS)('fleet/log-routes on %s (real HTTP)', (backend) => {
  const databases = new TestDatabases(backend);
  let server: FleetServer;
  let client: FleetClient;

  beforeEach(async () => {
    server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      database: await databases.fresh(),
      token: TOKEN,
      logLinesPerDevice: 50,
    });
    client = new FleetClient({ url: server.url, token: TOKEN });
    const { provisioningKey } = await client.createFleet('kitchen');
    const registered = await httpCall(server.url, 'POST', '/device/register', {
      key: provisioningKey,
      body: { uuid: UUID, fleet: 'kitchen', deviceApiKey: KEY },
    });
    expect(registered.status).toBe(201);
  });

  afterEach(async () => {
    await server.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  const ship = (body: string, options: { key?: string; contentType?: string } = {}): Promise<HttpAnswer> =>
    httpCall(server.url, 'POST', `/device/v2/${UUID}/log-stream`, {
      key: options.key ?? KEY,
      raw: body,
      headers: { 'content-type': options.contentType ?? 'application/x-ndjson' },
    });

  it('stores NDJSON batches and answers them to the manager: newest lines, by service, by prefix', async () => {
    const stored = await ship(
      ndjson(
        { message: 'out1', timestamp: at(1), serviceName: 'main' },
        { message: 'err1', timestamp: at(2), serviceName: 'main', isStderr: true },
        { message: 'Updating kitchen to release abcdef0', timestamp: at(3), isSystem: true },
        { message: 'side', timestamp: at(4), serviceName: 'helper' },
      ),
    );
    expect(stored.status).toBe(200);
    expect(stored.json()).toEqual({ status: 'ok', stored: 4 });
    const page = await client.deviceLogs('feed0001');
    expect(page.uuid).toBe(UUID);
    expect(page.lines.map((l) => [l.serviceName, l.isStderr, l.isSystem, l.message])).toEqual([
      ['main', false, false, 'out1'],
      ['main', true, false, 'err1'],
      [null, false, true, 'Updating kitchen to release abcdef0'],
      ['helper', false, false, 'side'],
    ]);
    expect(page.last).toBe(page.lines[3]!.id);
    expect((await client.deviceLogs(UUID, { tail: 1 })).lines.map((l) => l.message)).toEqual(['side']);
    expect((await client.deviceLogs(UUID, { service: 'main' })).lines.map((l) => l.message)).toEqual([
      'out1',
      'err1',
    ]);
  });

  it('answers bad batches with 4xx, stores nothing of them, and keeps serving', async () => {
    const good = ndjson({ message: 'fine', timestamp: at(1) });
    const cases: Array<[string, Promise<HttpAnswer>, number]> = [
      ['malformed line', ship(`${good}{"message":\n`), 400],
      ['missing timestamp', ship(ndjson({ message: 'x' })), 400],
      ['JSON object body', ship('{"message":"x","timestamp":1}', { contentType: 'application/json' }), 400],
      ['too many lines', ship(good.repeat(2001)), 413],
      ['body over 1 MiB', ship(ndjson({ message: 'x'.repeat(60_000), timestamp: 1 }).repeat(20)), 413],
      ['wrong key', ship(good, { key: 'not-the-key-000' }), 401],
      ['empty body', ship(''), 400],
      ['binary junk', ship('\u0000\u0001\u0002'), 400],
    ];
    for (const [what, answer, status] of cases) {
      const reply = await answer;
      expect([what, reply.status]).toEqual([what, status]);
      expect(reply.json()).toEqual({ error: expect.any(String), message: expect.any(String) });
    }
    expect((await client.deviceLogs(UUID)).lines).toEqual([]);
    expect((await ship(good)).status).toBe(200);
    expect((await client.deviceLogs(UUID)).lines.map((l) => l.message)).toEqual(['fine']);
  });

  it('keeps only the last lines of a device (50 in this test)', async () => {
    for (let batch = 0; batch < 4; batch += 1) {
      const lines = Array.from({ length: 20 }, (_, i) => ({
        message: `l${batch * 20 + i}`,
        timestamp: at(i),
      }));
      expect((await ship(ndjson(...lines))).status).toBe(200);
    }
    const page = await client.deviceLogs(UUID, { tail: 10_000 });
    expect(page.lines.map((l) => l.message)).toEqual(Array.from({ length: 50 }, (_, i) => `l${i + 30}`));
  });

  it('a follower waiting after the last line is answered as soon as new lines are stored', async () => {
    await ship(ndjson({ message: 'first', timestamp: at(1) }));
    const { last } = await client.deviceLogs(UUID);
    const started = Date.now();
    const waiting = client.deviceLogs(UUID, { after: last, waitMs: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await ship(ndjson({ message: 'second', timestamp: at(2) }));
    const page = await waiting;
    expect(page.lines.map((l) => l.message)).toEqual(['second']);
    expect(Date.now() - started).toBeLessThan(5_000);
    // Nothing new: the wait ends empty, with the same place to go on from.
    expect(await client.deviceLogs(UUID, { after: page.last, waitMs: 100 })).toEqual({
      uuid: UUID,
      lines: [],
      last: page.last,
    });
  });

  it('refuses bad log queries with 400 and unknown devices with 404', async () => {
    const get = (query: string) =>
      httpCall(server.url, 'GET', `/v1/devices/${UUID}/logs${query}`, { key: TOKEN });
    for (const query of ['?tail=0', '?tail=abc', '?tail=10001', '?after=-1', '?wait=30001']) {
      expect([query, (await get(query)).status]).toEqual([query, 400]);
    }
    expect((await httpCall(server.url, 'GET', '/v1/devices/ffff/logs', { key: TOKEN })).status).toBe(404);
    expect((await httpCall(server.url, 'GET', `/v1/devices/${UUID}/logs`)).status).toBe(401);
  });

  it('bosun fleet logs prints the last lines, then follows new ones (text and --json)', async () => {
    await ship(
      ndjson(
        { message: 'old', timestamp: Date.parse('2026-03-04T05:06:07.008Z'), serviceName: 'main' },
        { message: 'Update started', timestamp: Date.parse('2026-03-04T05:06:08Z'), isSystem: true },
      ),
    );
    let text = '';
    const abort = new AbortController();
    const following = printDeviceLogs(client, {
      device: 'feed',
      tail: 100,
      follow: true,
      json: false,
      write: (chunk) => (text += chunk),
      warn: (chunk) => (text += `WARN ${chunk}`),
      signal: abort.signal,
      waitMs: 500,
    });
    await waitFor('the first lines', () => text.includes('Update started'), 5_000, 20);
    await ship(
      ndjson({ message: 'new', timestamp: Date.parse('2026-03-04T05:06:09Z'), serviceName: 'main' }),
    );
    await waitFor('the followed line', () => text.includes('new'), 5_000, 20);
    abort.abort();
    await following;
    expect(text).toBe(
      [
        '2026-03-04T05:06:07.008Z [main] old',
        '2026-03-04T05:06:08.000Z [bosun] Update started',
        '2026-03-04T05:06:09.000Z [main] new',
        '',
      ].join('\n'),
    );

    let json = '';
    await printDeviceLogs(client, {
      device: UUID,
      tail: 1,
      follow: false,
      json: true,
      write: (chunk) => (json += chunk),
      warn: () => undefined,
    });
    expect(
      json
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      {
        timestamp: Date.parse('2026-03-04T05:06:09Z'),
        serviceName: 'main',
        isStderr: false,
        isSystem: false,
        message: 'new',
      },
    ]);
  });
});
