import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';

const TOKEN = 'manager-token-for-tests';
const FIXTURES = path.join(process.cwd(), 'test/fixtures/compose');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(
  server: FleetServer,
  method: string,
  route: string,
  options: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.raw !== undefined) {
    body = options.raw;
    headers['content-type'] ??= 'application/yaml';
  } else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const response = await fetch(`${server.url}${route}`, { method, headers, body });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: () => JSON.parse(text) };
}

describe.each(FLEET_BACKENDS)('fleet/server on %s (real HTTP, a fresh database each test)', (backend) => {
  const databases = new TestDatabases(backend);
  let database: string;
  let server: FleetServer;

  beforeEach(async () => {
    database = await databases.fresh();
    server = await startFleetServer({ port: 0, address: '127.0.0.1', database, token: TOKEN });
  });

  afterEach(async () => {
    await server.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  const manager = (method: string, route: string, body?: unknown) =>
    call(server, method, route, { key: TOKEN, body });

  async function createFleet(
    name = 'kitchen',
  ): Promise<{ provisioningKey: string; appUuid: string; appId: number }> {
    const created = await manager('POST', '/v1/fleets', { name });
    expect(created.status).toBe(201);
    return created.json();
  }

  async function register(provisioningKey: string, uuid: string, deviceApiKey: string, fleet = 'kitchen') {
    return call(server, 'POST', '/device/register', {
      key: provisioningKey,
      body: { uuid, fleet, deviceApiKey },
    });
  }

  async function push(fleet: string, yaml: string) {
    return call(server, 'POST', `/v1/fleets/${fleet}/releases`, { key: TOKEN, raw: yaml });
  }

  const poll = (uuid: string, key: string, etag?: string) =>
    call(server, 'GET', `/device/v3/${uuid}/state`, { key, headers: etag ? { 'if-none-match': etag } : {} });

  it('registers a device idempotently, refuses another key (409) and a bad provisioning key (401)', async () => {
    const { provisioningKey } = await createFleet();
    const first = await register(provisioningKey, 'device-0001', 'device-key-0001');
    expect(first.status).toBe(201);
    expect(first.json()).toEqual({ id: expect.any(Number), uuid: 'device-0001', fleet: 'kitchen' });
    const again = await register(provisioningKey, 'device-0001', 'device-key-0001');
    expect(again.status).toBe(200);
    expect(again.json()).toEqual(first.json());
    expect((await register(provisioningKey, 'device-0001', 'another-key-123')).status).toBe(409);
    expect((await register('not-the-key', 'device-0002', 'device-key-0002')).status).toBe(401);
    expect((await register(provisioningKey, 'device-0002', 'device-key-0002', 'nope')).status).toBe(401);
  });

  it('serves the target with a strong ETag, 304 on If-None-Match, 401 on a wrong key', async () => {
    const { provisioningKey, appUuid } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    const before = await poll('device-0001', 'device-key-0001');
    expect(before.status).toBe(200);
    expect(before.json()['device-0001'].apps[appUuid].releases).toEqual({});
    const etag = before.headers.get('etag') as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

    const unchanged = await poll('device-0001', 'device-key-0001', etag);
    expect(unchanged.status).toBe(304);
    expect(unchanged.text).toBe('');
    expect((await poll('device-0001', 'wrong-key-xyz', etag)).status).toBe(401);
    expect((await call(server, 'GET', '/device/v3/device-0001/state')).status).toBe(401);
    expect((await poll('no-such-device', 'device-key-0001')).status).toBe(401);

    expect((await push('kitchen', fixture('demo-2.yml'))).status).toBe(201);
    const changed = await poll('device-0001', 'device-key-0001', etag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });

  it('turns a pushed compose file into a target document of the contract shape', async () => {
    const { provisioningKey, appUuid, appId } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    const pushed = await push('kitchen', fixture('two-services.yml'));
    expect(pushed.status).toBe(201);
    const release = pushed.json();
    expect(release.commit).toMatch(/^[0-9a-f]{32}$/);

    const doc = (await poll('device-0001', 'device-key-0001')).json();
    expect(Object.keys(doc)).toEqual(['device-0001']);
    const device = doc['device-0001'];
    expect(device.name).toBe('device-');
    expect(device.config).toEqual({});
    expect(Object.keys(device.apps)).toEqual([appUuid]);
    const app = device.apps[appUuid];
    expect(app).toMatchObject({ id: appId, name: 'kitchen', class: 'fleet' });
    expect(Object.keys(app.releases)).toEqual([release.commit]);
    const target = app.releases[release.commit];
    expect(target.id).toBe(release.id);
    expect(target.volumes).toEqual({ data: {} });
    expect(target.networks).toEqual({});
    expect(Object.keys(target.services).sort()).toEqual(['locker', 'main']);
    expect(target.services.main).toEqual({
      id: release.services.main.id,
      image_id: release.services.main.imageId,
      image: '127.0.0.1:5000/bosun/demo:1',
      environment: { MODE: 'prod', RETRIES: '3' },
      labels: { 'io.balena.update.strategy': 'download-then-kill' },
      running: true,
      composition: {
        command: ['sleep', '3600'],
        restart: 'always',
        network_mode: 'none',
        init: true,
        stop_grace_period: '5s',
        volumes: ['data:/data'],
      },
    });
    // The composition is served as compose wrote it: the device parses it (one parser).
    expect(target.services.locker.composition).toEqual({
      entrypoint: `/bin/sh -c 'echo "hi there"'`,
      depends_on: ['main'],
      network_mode: 'host',
      working_dir: '/app',
      user: '1000',
      stop_signal: 'SIGINT',
      tty: false,
      healthcheck: { test: ['CMD', 'true'], interval: '10s', retries: 3 },
    });
    expect(target.services.locker.environment).toEqual({ LOCK_FOR: '30' });

    // Ids are stable per service name and image ref: a second push reuses main's.
    const second = (await push('kitchen', fixture('demo-2.yml'))).json();
    expect(second.services.main.id).toBe(release.services.main.id);
    expect(second.services.main.imageId).not.toBe(release.services.main.imageId);
    expect(second.id).toBeGreaterThan(release.id);
  });

  it('rejects bad YAML with its line, and what a device would reject with its message', async () => {
    await createFleet();
    const syntax = await push('kitchen', fixture('bad-syntax.yml'));
    expect(syntax.status).toBe(400);
    expect(syntax.json().issues[0]).toMatchObject({ line: expect.any(Number), col: expect.any(Number) });
    expect(syntax.json().message).toMatch(/line [45]/);
    const fields = await push('kitchen', fixture('bad-fields.yml'));
    expect(fields.status).toBe(400);
    // The device's validation stops at its first error, and the push names it with its line.
    expect(fields.json().issues).toEqual([
      {
        path: 'services.main.composition.restart',
        message: 'expected one of no, always, on-failure, unless-stopped, found the string "sometimes"',
        line: 5,
        col: 14,
      },
    ]);
    const relative = await push('kitchen', fixture('relative-working-dir.yml'));
    expect(relative.status).toBe(400);
    expect(relative.json()).toEqual({
      error: 'EFLEET_BAD_INPUT',
      message:
        'invalid compose file: services.main.composition.working_dir: expected an absolute path, ' +
        'found the string "app" (line 4, column 18)',
      issues: [expect.objectContaining({ path: 'services.main.composition.working_dir', line: 4 })],
    });
    expect((await manager('GET', '/v1/fleets/kitchen/releases')).json()).toEqual([]);
    expect((await push('nowhere', fixture('demo-2.yml'))).status).toBe(404);
  });

  it('answers a push with the warnings devices would give', async () => {
    await createFleet();
    const pushed = await push('kitchen', 'services:\n  main:\n    image: demo:1\n    blkio_config: {}\n');
    expect(pushed.status).toBe(201);
    expect(pushed.json().warnings).toEqual([
      {
        path: 'services.main.composition.blkio_config',
        message: 'unsupported composition key "blkio_config" ignored',
        line: 4,
        col: 19,
      },
    ]);
  });

  it('deep-merges partial state reports and lists them per device', async () => {
    const { provisioningKey, appUuid } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    const release = (await push('kitchen', fixture('demo-2.yml'))).json();
    const report = (body: unknown, key = 'device-key-0001') =>
      call(server, 'PATCH', '/device/v3/state', { key, body });
    const releases = {
      [release.commit]: { update_status: 'downloading', services: { main: { download_progress: 40 } } },
    };
    expect(
      (await report({ 'device-0001': { status: 'Idle', apps: { [appUuid]: { releases } } } })).status,
    ).toBe(200);
    const locks = [
      { app_uuid: appUuid, service: 'main', path: '/tmp/balena/updates.lock', since: '2026-01-01T00:00:00Z' },
    ];
    const next = { [release.commit]: { update_status: 'locked' } };
    await report({ 'device-0001': { update_locks: locks, apps: { [appUuid]: { releases: next } } } });
    expect((await report({ 'device-0001': { status: 'x' } }, 'wrong-key-123')).status).toBe(401);
    expect((await report({ 'someone-else': { status: 'x' } })).status).toBe(401);

    const [device] = (await manager('GET', '/v1/devices?fleet=kitchen')).json();
    expect(device).toMatchObject({
      uuid: 'device-0001',
      status: 'Idle',
      updateStatus: 'locked',
      downloadProgress: 40,
      targetRelease: { id: release.id, commit: release.commit },
      reportedRelease: null,
      updateLocks: [
        { appUuid, service: 'main', path: '/tmp/balena/updates.lock', since: '2026-01-01T00:00:00Z' },
      ],
      targetError: null,
    });
    expect(device.lastSeen).toEqual(expect.any(String));
  });

  it('keeps a pinned device on its release and applies device config over fleet config', async () => {
    const { provisioningKey, appUuid } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    await register(provisioningKey, 'device-0002', 'device-key-0002');
    const first = (await push('kitchen', fixture('demo-2.yml'))).json();
    const pinned = await manager('POST', '/v1/devices/device-0001/pin', {
      release: first.commit.slice(0, 8),
    });
    expect(pinned.status).toBe(200);
    const second = (await push('kitchen', fixture('two-services.yml'))).json();
    const releaseOf = async (uuid: string, key: string) =>
      Object.keys((await poll(uuid, key)).json()[uuid].apps[appUuid].releases);
    expect(await releaseOf('device-0001', 'device-key-0001')).toEqual([first.commit]);
    expect(await releaseOf('device-0002', 'device-key-0002')).toEqual([second.commit]);
    expect((await manager('POST', '/v1/devices/device-0001/unpin')).status).toBe(200);
    expect(await releaseOf('device-0001', 'device-key-0001')).toEqual([second.commit]);
    expect((await manager('POST', '/v1/devices/device-0001/pin', { release: 'ffffffffff' })).status).toBe(
      404,
    );

    await manager('PUT', '/v1/fleets/kitchen/config/SUPERVISOR_OVERRIDE_LOCK', { value: '0' });
    await manager('PUT', '/v1/fleets/kitchen/config/SUPERVISOR_POLL_INTERVAL', { value: '60000' });
    await manager('PUT', '/v1/devices/device-0001/config/SUPERVISOR_OVERRIDE_LOCK', { value: '1' });
    const configOf = async (uuid: string, key: string) => (await poll(uuid, key)).json()[uuid].config;
    expect(await configOf('device-0001', 'device-key-0001')).toEqual({
      SUPERVISOR_OVERRIDE_LOCK: '1',
      SUPERVISOR_POLL_INTERVAL: '60000',
    });
    expect((await configOf('device-0002', 'device-key-0002')).SUPERVISOR_OVERRIDE_LOCK).toBe('0');
    expect((await manager('GET', '/v1/fleets/kitchen/config')).json()).toEqual({
      fleet: { SUPERVISOR_OVERRIDE_LOCK: '0', SUPERVISOR_POLL_INTERVAL: '60000' },
    });
    await manager('DELETE', '/v1/devices/device-0001/config/SUPERVISOR_OVERRIDE_LOCK');
    expect((await configOf('device-0001', 'device-key-0001')).SUPERVISOR_OVERRIDE_LOCK).toBe('0');
  });

  it('rolls a fleet back to an earlier release: new target documents and ETags, pins kept', async () => {
    const { provisioningKey, appUuid } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    await register(provisioningKey, 'device-0002', 'device-key-0002');
    const first = (await push('kitchen', fixture('demo-2.yml'))).json();
    const second = (await push('kitchen', fixture('two-services.yml'))).json();
    await manager('POST', '/v1/devices/device-0002/pin', { release: second.commit });
    const before = await poll('device-0001', 'device-key-0001');
    const etag = before.headers.get('etag')!;
    expect((await poll('device-0001', 'device-key-0001', etag)).status).toBe(304);
    const releaseOf = async (uuid: string, key: string) =>
      Object.keys((await poll(uuid, key)).json()[uuid].apps[appUuid].releases);

    const back = await manager('PUT', '/v1/fleets/kitchen/target', { release: first.id });
    expect(back.status).toBe(200);
    expect(back.json()).toEqual({
      fleet: 'kitchen',
      target: { id: first.id, commit: first.commit },
      // A roll-back is a rollout of one wave.
      rollout: expect.objectContaining({ release: { id: first.id, commit: first.commit }, waveSpec: '100%' }),
    });
    // The device's old ETag no longer matches: its next poll gets the earlier release.
    expect((await poll('device-0001', 'device-key-0001', etag)).status).toBe(200);
    expect(await releaseOf('device-0001', 'device-key-0001')).toEqual([first.commit]);
    expect(await releaseOf('device-0002', 'device-key-0002')).toEqual([second.commit]);
    expect((await manager('GET', '/v1/fleets/kitchen')).json().targetRelease).toEqual({
      id: first.id,
      commit: first.commit,
    });

    expect((await manager('PUT', '/v1/fleets/kitchen/target', { release: 'ffffffffff' })).status).toBe(404);
    expect((await manager('PUT', '/v1/fleets/kitchen/target', { release: true })).status).toBe(400);
    expect((await manager('PUT', '/v1/fleets/nope/target', { release: first.id })).status).toBe(404);
    expect(await releaseOf('device-0001', 'device-key-0001')).toEqual([first.commit]);
  });

  it('answers 401 to manager calls without the token, and JSON errors for unknown things', async () => {
    expect((await call(server, 'GET', '/v1/fleets')).status).toBe(401);
    expect((await call(server, 'GET', '/v1/fleets', { key: 'wrong' })).status).toBe(401);
    await createFleet();
    expect((await manager('POST', '/v1/fleets', { name: 'kitchen' })).status).toBe(409);
    expect((await manager('POST', '/v1/fleets', { name: 'bad name!' })).status).toBe(400);
    const unknown = await manager('GET', '/v1/devices?fleet=garage');
    expect(unknown.status).toBe(404);
    expect(unknown.json()).toEqual({ error: 'EFLEET_NOT_FOUND', message: 'unknown fleet "garage"' });
  });

  it('keeps fleets, devices, targets and ETags across a restart on the same database', async () => {
    const { provisioningKey } = await createFleet();
    await register(provisioningKey, 'device-0001', 'device-key-0001');
    await push('kitchen', fixture('two-services.yml'));
    await manager('PUT', '/v1/fleets/kitchen/config/SUPERVISOR_POLL_INTERVAL', { value: '60000' });
    const before = await poll('device-0001', 'device-key-0001');
    const fleetsBefore = (await manager('GET', '/v1/fleets')).json();
    const devicesBefore = (await manager('GET', '/v1/devices')).json();
    await server.close();

    server = await startFleetServer({ port: 0, address: '127.0.0.1', database, token: TOKEN });
    const etag = before.headers.get('etag') as string;
    expect((await poll('device-0001', 'device-key-0001', etag)).status).toBe(304);
    const after = await poll('device-0001', 'device-key-0001');
    expect(after.headers.get('etag')).toBe(etag);
    expect(after.text).toBe(before.text);
    expect((await manager('GET', '/v1/fleets')).json()).toEqual(fleetsBefore);
    expect((await manager('GET', '/v1/devices')).json()).toEqual(devicesBefore);
    expect((await register(provisioningKey, 'device-0001', 'device-key-0001')).status).toBe(200);
  });

  it('generates a manager token once, stores its hash in the db and accepts it after a restart', async () => {
    const other = await databases.fresh();
    const first = await startFleetServer({ port: 0, database: other });
    expect(first.tokenSource).toBe('generated');
    const token = first.token!;
    await first.close();
    const second = await startFleetServer({ port: 0, database: other });
    expect(second.tokenSource).toBe('stored');
    expect(second.token).toBeUndefined();
    expect((await call(second, 'GET', '/v1/fleets', { key: token })).status).toBe(200);
    await second.close();
  });
});
