/**
 * Several fleet backends on one PostgreSQL database serve the same fleets (contract section
 * 12): each FleetServer here has a pool of its own, as a separate `fleet serve` process would.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { MIGRATIONS } from '../../../src/fleet/migrations.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { runCli } from '../../helpers/fleet-sim.js';
import { TestDatabases } from '../../helpers/fleet-databases.js';
import { httpCall, type HttpAnswer } from '../../helpers/fleet-http.js';

const TOKEN = 'manager-token-shared-pg';
const DEVICES = 6;

const compose = (image: string) => `services:\n  main:\n    image: ${image}\n    network_mode: none\n`;

describe('fleet backends sharing one PostgreSQL database', () => {
  const databases = new TestDatabases('postgres');
  let database: string;
  const servers: FleetServer[] = [];

  /** A backend with the test's manager token, or (`stored`) the one kept in the database. */
  const start = async (token: 'given' | 'stored' = 'given') => {
    const server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      database,
      token: token === 'given' ? TOKEN : undefined,
    });
    servers.push(server);
    return server;
  };

  beforeEach(async () => {
    database = await databases.fresh();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  afterAll(async () => {
    await databases.dispose();
  });

  const manager = (server: FleetServer, method: string, route: string, body?: unknown) =>
    httpCall(server.url, method, route, { key: TOKEN, body });
  const push = (server: FleetServer, image: string) =>
    httpCall(server.url, 'POST', '/v1/fleets/kitchen/releases', {
      key: TOKEN,
      raw: compose(image),
      headers: { 'content-type': 'application/yaml' },
    });
  const poll = (server: FleetServer, uuid: string, etag?: string) =>
    httpCall(server.url, 'GET', `/device/v3/${uuid}/state`, {
      key: `key-${uuid}`,
      headers: etag ? { 'if-none-match': etag } : {},
    });
  const uuidOf = (i: number) => `device-${String(i).padStart(4, '0')}`;
  const ok = (answer: HttpAnswer) => {
    expect({ status: answer.status, text: answer.status < 300 ? '' : answer.text }).toEqual({
      status: answer.status < 300 ? answer.status : 200,
      text: '',
    });
    return answer;
  };

  /** A fleet `kitchen` created through `first`, its devices registered through both in turn. */
  async function kitchen(first: FleetServer, second: FleetServer): Promise<void> {
    const { provisioningKey } = ok(await manager(first, 'POST', '/v1/fleets', { name: 'kitchen' })).json();
    for (let i = 0; i < DEVICES; i++) {
      const via = i % 2 === 0 ? first : second;
      ok(
        await httpCall(via.url, 'POST', '/device/register', {
          key: provisioningKey,
          body: { uuid: uuidOf(i), fleet: 'kitchen', deviceApiKey: `key-${uuidOf(i)}` },
        }),
      );
    }
  }

  it('migrates a new database once when several backends start on it at once; one generates the token', async () => {
    const started = await Promise.all([1, 2, 3, 4].map(() => start('stored')));
    expect(started.map((s) => s.tokenSource).sort()).toEqual(['generated', 'stored', 'stored', 'stored']);
    const token = started.find((s) => s.tokenSource === 'generated')!.token!;
    for (const server of started) {
      expect((await httpCall(server.url, 'GET', '/v1/fleets', { key: token })).status).toBe(200);
    }
    const recorded = await started[0]!.store.db.all<{ id: number }>('SELECT id FROM migrations ORDER BY id');
    expect(recorded.map((row) => row.id)).toEqual(MIGRATIONS.map((m) => m.id));
  });

  it('serves a push through one backend to polls on the other, with the same ETag and bytes', async () => {
    const [a, b] = [await start(), await start()];
    await kitchen(a, b);
    const before = ok(await poll(b, uuidOf(1)));
    const oldEtag = before.headers.etag as string;
    expect((await poll(a, uuidOf(1), oldEtag)).status).toBe(304);

    const release = ok(await push(a, '127.0.0.1:5000/bosun/demo:2')).json();
    const onB = ok(await poll(b, uuidOf(1), oldEtag));
    expect(onB.status).toBe(200);
    expect(
      Object.keys(onB.json()[uuidOf(1)].apps[Object.keys(onB.json()[uuidOf(1)].apps)[0]!].releases),
    ).toEqual([release.commit]);
    const onA = ok(await poll(a, uuidOf(1)));
    expect(onA.headers.etag).toBe(onB.headers.etag);
    expect(onA.text).toBe(onB.text);
    expect((await poll(a, uuidOf(1), onB.headers.etag as string)).status).toBe(304);
    expect((await poll(b, uuidOf(1), onA.headers.etag as string)).status).toBe(304);
    // The manager's views agree too.
    expect((await manager(a, 'GET', '/v1/devices')).json()).toEqual(
      (await manager(b, 'GET', '/v1/devices')).json(),
    );
  });

  it('loses no write when pushes, pins, config changes and reports run at once through both', async () => {
    const [a, b] = [await start(), await start()];
    const via = (i: number) => (i % 2 === 0 ? a : b);
    await kitchen(a, b);
    const pinnedTo = ok(await push(a, 'pinned:1')).json();
    const pinned = [uuidOf(0), uuidOf(3)];

    const pushes = Array.from({ length: 8 }, (_, i) => push(via(i), `app:${i}`));
    const pins = pinned.map((uuid, i) =>
      manager(via(i + 1), 'POST', `/v1/devices/${uuid}/pin`, { release: pinnedTo.commit }),
    );
    const fleetKeys = Array.from({ length: 10 }, (_, i) => `FLEET_VAR_${i}`);
    const fleetConfig = fleetKeys.map((key, i) =>
      manager(via(i), 'PUT', `/v1/fleets/kitchen/config/${key}`, { value: String(i) }),
    );
    const deviceConfig = Array.from({ length: DEVICES }, (_, i) =>
      manager(via(i + 1), 'PUT', `/v1/devices/${uuidOf(i)}/config/DEVICE_VAR`, { value: uuidOf(i) }),
    );
    const reportKeys = Array.from({ length: 20 }, (_, i) => `field_${i}`);
    const reports = reportKeys.map((key, i) =>
      httpCall(via(i).url, 'PATCH', '/device/v3/state', {
        key: `key-${uuidOf(5)}`,
        body: { [uuidOf(5)]: { [key]: i } },
      }),
    );
    const answers = await Promise.all([...pushes, ...pins, ...fleetConfig, ...deviceConfig, ...reports]);
    for (const answer of answers) ok(answer);
    const pushed = (await Promise.all(pushes)).map((answer) => answer.json().commit as string);

    const releases = ok(await manager(b, 'GET', '/v1/fleets/kitchen/releases')).json();
    expect(releases.map((r: { commit: string }) => r.commit).sort()).toEqual(
      [pinnedTo.commit, ...pushed].sort(),
    );
    const target = ok(await manager(a, 'GET', '/v1/fleets/kitchen')).json().targetRelease.commit as string;
    expect(pushed).toContain(target);

    const expectedConfig = Object.fromEntries(fleetKeys.map((key, i) => [key, String(i)]));
    for (let i = 0; i < DEVICES; i++) {
      const uuid = uuidOf(i);
      const [fromA, fromB] = [ok(await poll(a, uuid)), ok(await poll(b, uuid))];
      expect(fromA.headers.etag).toBe(fromB.headers.etag);
      const document = fromA.json()[uuid];
      const [app] = Object.values(document.apps) as Array<{ releases: Record<string, unknown> }>;
      expect({ uuid, releases: Object.keys(app!.releases), config: document.config }).toEqual({
        uuid,
        releases: [pinned.includes(uuid) ? pinnedTo.commit : target],
        config: { ...expectedConfig, DEVICE_VAR: uuid },
      });
    }
    const [reporter] = ok(await manager(a, 'GET', '/v1/devices'))
      .json()
      .filter((d: { uuid: string }) => d.uuid === uuidOf(5));
    expect(reporter).toBeDefined();
    const stored = await a.store.db.get<{ report_json: string }>(
      'SELECT report_json FROM devices WHERE uuid = ?',
      [uuidOf(5)],
    );
    expect(Object.keys(JSON.parse(stored!.report_json)).sort()).toEqual([...reportKeys].sort());
  });

  it('takes a manager token rotated through `fleet token --rotate --database` at once on every backend', async () => {
    const [a, b] = [await start('stored'), await start('stored')];
    const first = a.token ?? b.token!;
    const rotated = await runCli(['fleet', 'token', '--rotate', '--database', database]);
    expect(rotated.code).toBe(0);
    const second = rotated.stdout.trim();
    for (const server of [a, b]) {
      expect((await httpCall(server.url, 'GET', '/v1/fleets', { key: first })).status).toBe(401);
      expect((await httpCall(server.url, 'GET', '/v1/fleets', { key: second })).status).toBe(200);
    }
  });
});
