import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { parseCompose } from '../../../src/fleet/compose.js';
import { ComposeError } from '../../../src/fleet/errors.js';
import { composePath } from '../../../src/fleet/release-check.js';
import { FleetStore } from '../../../src/fleet/store.js';
import { join, splitPath } from '../../../src/target/fields.js';
import { TargetValidationError, parseTargetDocument } from '../../../src/target/validate.js';
import type { TargetWarning } from '../../../src/target/types.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';

const DEVICE = 'device-0001';

/** `bosun fleet push` as the backend runs it: YAML text in, the stored release out. */
function push(store: FleetStore, yaml: string) {
  return store.fleets.createRelease('kitchen', parseCompose(yaml), yaml);
}

async function pushError(store: FleetStore, yaml: string): Promise<ComposeError> {
  try {
    await push(store, yaml);
  } catch (err) {
    if (err instanceof ComposeError) return err;
    throw err;
  }
  throw new Error('the push was accepted');
}

type Compose = { services: Record<string, Record<string, unknown>>; volumes?: object; networks?: object };

/**
 * The device's verdict, built without any fleet code: the compose services wrapped by hand into
 * the v3 document a device polls (composition = every key but image, environment and labels),
 * then the device's own parseTargetDocument. Warnings are relative to the release. The snippets
 * use only forms v3 shares with compose (no `KEY=VALUE` lists, no null values), which
 * fleet-compose.test.ts covers.
 */
function deviceVerdict(
  compose: Compose,
): { ok: true; warnings: TargetWarning[] } | { ok: false; error: string } {
  const services = Object.fromEntries(
    Object.entries(compose.services).map(([name, service], i) => {
      const { image, environment, labels, ...composition } = service;
      return [name, { id: i + 1, image_id: i + 1, image, environment, labels, composition }];
    }),
  );
  const release = { id: 1, services, volumes: compose.volumes ?? {}, networks: compose.networks ?? {} };
  const prefix = 'apps.app1.releases.commit1.';
  const doc = { [DEVICE]: { config: {}, apps: { app1: { id: 1, releases: { commit1: release } } } } };
  try {
    const { warnings } = parseTargetDocument(doc, DEVICE);
    return { ok: true, warnings: warnings.map((w) => ({ ...w, path: w.path.replace(prefix, '') })) };
  } catch (err) {
    if (err instanceof TargetValidationError) return { ok: false, error: err.message.replace(prefix, '') };
    throw err;
  }
}

const one = (service: Record<string, unknown>, rest: Omit<Compose, 'services'> = {}): Compose => ({
  services: { main: { image: '127.0.0.1:5000/demo:1', ...service } },
  ...rest,
});

const SNIPPETS: Array<[string, Compose]> = [
  ['a minimal service', one({})],
  [
    'a full service',
    {
      services: {
        main: {
          image: '127.0.0.1:5000/demo:1',
          environment: { MODE: 'prod', RETRIES: 3, ON: true },
          labels: { 'io.balena.update.strategy': 'hand-over' },
          command: `sh -c 'echo "a b"'`,
          entrypoint: ['/bin/sh'],
          working_dir: '/app',
          user: 1000,
          restart: 'on-failure',
          network_mode: 'none',
          volumes: ['data:/data:ro', { type: 'volume', source: 'data', target: '/more' }],
          stop_signal: 'SIGINT',
          stop_grace_period: '1m30s',
          init: true,
          tty: false,
          healthcheck: { test: 'true', interval: '10s', retries: 3 },
        },
        side: { image: 'side', depends_on: { main: { condition: 'service_started' } } },
      },
      volumes: { data: null },
    },
  ],
  ['a relative working_dir', one({ working_dir: 'app' })],
  ['an image with a space', one({ image: 'bad image:1' })],
  ['an image in upper case', one({ image: 'Acme/Demo:1' })],
  ['an image with a bad tag', one({ image: 'demo:-1' })],
  ['no image', { services: { main: { command: 'true' } } }],
  ['an image that is a number', one({ image: 7 })],
  ['an env name with =', one({ environment: { 'BAD=NAME': 'x' } })],
  ['an env value that is a map', one({ environment: { E: { nested: 1 } } })],
  ['a label key with a line break', one({ labels: { 'a\nb': 'x' } })],
  ['an unknown update strategy (a warning)', one({ labels: { 'io.balena.update.strategy': 'soon' } })],
  ['depends_on a missing service', one({ depends_on: ['ghost'] })],
  ['depends_on itself', one({ depends_on: ['main'] })],
  [
    'a depends_on cycle',
    { services: { a: { image: 'x', depends_on: ['b'] }, b: { image: 'x', depends_on: ['a'] } } },
  ],
  ['an undeclared volume', one({ volumes: ['data:/data'] })],
  ['a bind mount', one({ volumes: ['/srv:/data'] }, { volumes: { data: {} } })],
  ['an anonymous volume', one({ volumes: ['/data'] })],
  ['a relative mount target', one({ volumes: ['data:data'] }, { volumes: { data: {} } })],
  ['two mounts at one path', one({ volumes: ['a:/d', 'b:/d'] }, { volumes: { a: {}, b: {} } })],
  ['a bad volume name', one({}, { volumes: { 'bad name': {} } })],
  ['volume options that are not a map', one({}, { volumes: { data: 'yes' } })],
  ['network_mode bridge', one({ network_mode: 'bridge' })],
  ['an unknown restart policy', one({ restart: 'sometimes' })],
  ['a bad duration', one({ stop_grace_period: 'soon' })],
  ['a duration over a day', one({ stop_grace_period: '48h' })],
  ['a non-boolean init', one({ init: 'yes' })],
  ['an unterminated quote', one({ command: "sh -c 'oops" })],
  ['a bad healthcheck test', one({ healthcheck: { test: ['BAD'] } })],
  ['an unknown healthcheck key (a warning)', one({ healthcheck: { test: 'true', start_interval: '1s' } })],
  ['an unsupported key (a warning)', one({ privileged: true, cap_add: ['NET_ADMIN'] })],
  ['release networks (a warning)', one({}, { networks: { front: { driver: 'bridge' } } })],
  ['a service name with a space', { services: { 'bad name': { image: 'x' } } }],
  ['a service named __proto__', { services: { ['__proto__']: { image: 'x' } } }],
];

describe.each(FLEET_BACKENDS)('fleet/release-check on %s: push runs the device validation', (backend) => {
  const databases = new TestDatabases(backend);
  const stores: FleetStore[] = [];

  /** A fleet `kitchen` with one registered device, in a database of its own. */
  async function kitchen(): Promise<FleetStore> {
    const store = await FleetStore.open(await databases.fresh());
    stores.push(store);
    const { provisioningKey } = await store.fleets.create('kitchen');
    await store.devices.register(
      { uuid: DEVICE, fleet: 'kitchen', deviceApiKey: 'device-key-1' },
      provisioningKey,
    );
    return store;
  }

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    await databases.dispose();
  });

  it.each(SNIPPETS)('push accepts %s exactly when the device does', async (_what, compose) => {
    const yaml = stringify(compose);
    const device = deviceVerdict(compose);
    const store = await kitchen();
    if (device.ok) {
      const pushed = await push(store, yaml);
      expect(pushed.warnings.map(({ path, message }) => ({ path, message }))).toEqual(device.warnings);
      // And what the fleet then serves is accepted by the device too.
      const served = (await store.devices.target(DEVICE))?.target_json ?? '';
      expect(() => parseTargetDocument(JSON.parse(served), DEVICE)).not.toThrow();
    } else {
      const err = await pushError(store, yaml);
      expect(err.issues).toHaveLength(1);
      const [issue] = err.issues;
      // The device's message: its path (relative to the release) and its reason.
      expect(`${issue?.path}: ${issue?.message}`.replace(/^: /, '')).toBe(device.error);
      expect(await store.fleets.listReleases('kitchen')).toEqual([]);
    }
  });

  it('refuses working_dir: app with the device message, its path and its line; stores nothing', async () => {
    const store = await kitchen();
    const err = await pushError(store, 'services:\n  main:\n    image: demo:1\n    working_dir: app\n');
    expect(err.statusCode).toBe(400);
    expect(err.message).toBe(
      'invalid compose file: services.main.composition.working_dir: ' +
        'expected an absolute path, found the string "app" (line 4, column 18)',
    );
    expect(await store.fleets.listReleases('kitchen')).toEqual([]);
    expect((await store.fleets.list())[0]?.targetRelease).toBeNull();
    // Nothing of the refused push is left: no service or image row (the ids a sequence handed
    // out may be skipped on PostgreSQL, which does not roll sequences back).
    const count = (table: string) =>
      store.db.get<{ n: number }>(`SELECT CAST(COUNT(*) AS INTEGER) AS n FROM ${table}`);
    expect(await count('services')).toEqual({ n: 0 });
    expect(await count('images')).toEqual({ n: 0 });
    expect((await push(store, 'services:\n  main:\n    image: demo:1\n')).services.main?.id).toEqual(
      expect.any(Number),
    );
  });

  it.each([
    ['image: "Demo:1"', 'services.main.image', 'invalid image reference "Demo:1"'],
    ['environment: { "BAD=NAME": x }', 'services.main.environment["BAD=NAME"]', 'contains "="'],
    [
      'depends_on: [ghost]',
      'services.main.composition.depends_on',
      '"ghost" is not a service of this release',
    ],
  ])('refuses %s naming %s', async (line, path, reason) => {
    const image = line.startsWith('image:') ? '' : '    image: demo:1\n';
    const yaml = `services:\n  main:\n${image}    ${line}\n`;
    const [issue] = (await pushError(await kitchen(), yaml)).issues;
    expect(issue).toMatchObject({ path, message: expect.stringContaining(reason), line: image ? 4 : 3 });
  });

  it('returns the warnings a device would give, with their compose lines', async () => {
    const pushed = await push(
      await kitchen(),
      'services:\n  main:\n    image: demo:1\n    blkio_config: {}\n',
    );
    expect(pushed.warnings).toEqual([
      {
        path: 'services.main.composition.blkio_config',
        message: 'unsupported composition key "blkio_config" ignored',
        line: 4,
        col: 19,
      },
    ]);
  });
});

describe('fleet/release-check composePath', () => {
  it('maps a release path onto the compose file, where composition keys sit in the service', () => {
    expect(composePath('services.main.composition.volumes[1]')).toEqual(['services', 'main', 'volumes', 1]);
    expect(composePath('services.main.environment["A=B"]')).toEqual([
      'services',
      'main',
      'environment',
      'A=B',
    ]);
    expect(composePath('volumes.data')).toEqual(['volumes', 'data']);
    expect(composePath('')).toEqual([]);
  });
});

describe('target/fields splitPath', () => {
  it('undoes join for plain, numeric and quoted keys', () => {
    const keys: Array<string | number> = ['"odd".key', 'services', 'a b', 0, 'x-y_z', 'with "quotes"', 12];
    const path = keys.reduce<string>((at, key) => join(at, key), '');
    expect(splitPath(path)).toEqual(keys);
  });
});
