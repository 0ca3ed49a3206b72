import { describe, it, expect } from '@jest/globals';
import { BosunError } from '../../../src/util/errors.js';
import {
  TargetValidationError,
  parseDeviceObject,
  parseTargetDocument,
} from '../../../src/target/validate.js';
import { APP, COMMIT, DEVICE, FIXTURE, SVC, doc } from '../../fixtures/targets/contract-doc.js';

function rejection(body: unknown, uuid = DEVICE): TargetValidationError {
  try {
    parseTargetDocument(body, uuid);
  } catch (err) {
    if (err instanceof TargetValidationError) return err;
    throw err;
  }
  throw new Error('document was accepted');
}

describe('target/validate parseTargetDocument', () => {
  it('parses the contract example with every default filled in', () => {
    const { target, warnings } = parseTargetDocument(doc(), DEVICE);
    expect(warnings).toEqual([]);
    expect(target).toEqual({
      uuid: DEVICE,
      name: 'kitchen-pi',
      config: { SUPERVISOR_POLL_INTERVAL: '60000', RESIN_SUPERVISOR_OVERRIDE_LOCK: '0' },
      apps: {
        [APP]: {
          appUuid: APP,
          appId: 1234,
          name: 'sensor-app',
          class: 'fleet',
          release: {
            uuid: COMMIT,
            id: 7,
            volumes: {},
            networks: { default: { driver: 'bridge' } },
            services: {
              main: {
                serviceName: 'main',
                serviceId: 23,
                imageId: 1001,
                image: '127.0.0.1:5000/sensor:7',
                environment: { MODE: 'prod' },
                labels: { 'io.balena.update.strategy': 'download-then-kill' },
                running: true,
                composition: {
                  command: ['sleep', '3600'],
                  restart: 'always',
                  networkMode: 'app',
                  networks: [{ name: 'default' }],
                  volumes: [],
                  dependsOn: [],
                  stopGracePeriodSec: 10,
                },
                strategy: 'download-then-kill',
                handoverTimeoutMs: 60000,
                overrideLock: false,
                supervisorApi: false,
              },
            },
          },
        },
      },
    });
  });

  it('fills defaults for a minimal service and app', () => {
    const body = doc(({ device, app, main }) => {
      delete device.name;
      delete device.config;
      delete app.name;
      delete app.class;
      for (const key of ['environment', 'labels', 'running', 'composition']) delete main[key];
    });
    const { target } = parseTargetDocument(body, DEVICE);
    expect(target.name).toBeUndefined();
    expect(target.config).toEqual({});
    expect(target.apps[APP]).toMatchObject({ name: '', class: 'fleet' });
    const main = target.apps[APP].release!.services.main;
    expect(main).toMatchObject({
      environment: {},
      labels: {},
      running: true,
      strategy: 'download-then-kill',
    });
    expect(main.composition).toEqual({
      restart: 'always',
      networkMode: 'app',
      networks: [{ name: 'default' }],
      volumes: [],
      dependsOn: [],
      stopGracePeriodSec: 10,
    });
  });

  it('keeps unknown config keys, stringifies numbers and booleans, ignores unknown top-level fields', () => {
    const body = doc(({ device }) => {
      device.config.RESIN_HOST_CONFIG_gpu_mem = '16';
      device.config.SOME_NUMBER = 5;
      device.config.SOME_FLAG = true;
      device.device_type = 'raspberrypi4-64';
    });
    const { target } = parseTargetDocument(body, DEVICE);
    expect(target.config).toMatchObject({
      RESIN_HOST_CONFIG_gpu_mem: '16',
      SOME_NUMBER: '5',
      SOME_FLAG: 'true',
    });
  });

  it('accepts an app with no release and leaves release undefined', () => {
    const { target } = parseTargetDocument(
      doc(({ app }) => (app.releases = {})),
      DEVICE,
    );
    expect(target.apps[APP].release).toBeUndefined();
    expect(target.apps[APP].appId).toBe(1234);
  });

  it('ignores the host OS app with a warning', () => {
    const body = doc(({ device }) => (device.apps.hostos = { id: 1, is_host: true, releases: {} }));
    const { target, warnings } = parseTargetDocument(body, DEVICE);
    expect(Object.keys(target.apps)).toEqual([APP]);
    expect(warnings).toEqual([{ path: 'apps.hostos', message: expect.stringContaining('host OS') }]);
  });

  it('stringifies number and boolean environment values and labels', () => {
    const body = doc(({ main }) => {
      main.environment = { PORT: 80, DEBUG: false };
      main.labels = { 'io.example.weight': 3 };
    });
    const main = parseTargetDocument(body, DEVICE).target.apps[APP].release!.services.main;
    expect(main.environment).toEqual({ PORT: '80', DEBUG: 'false' });
    expect(main.labels).toEqual({ 'io.example.weight': '3' });
  });

  type Case = [string, unknown, string, RegExp];
  const cases: Case[] = [
    ['not a JSON object', 'hello', '', /expected a target state document.*found the string "hello"/],
    ['an array', [], '', /expected a target state document.*found an array/],
    ['null', null, '', /found null/],
    ['an empty document', {}, '', /document is empty/],
    [
      'a document for another uuid',
      { 'other-device': JSON.parse(FIXTURE)[DEVICE] },
      '',
      new RegExp(`for device other-device, not for this device ${DEVICE}`),
    ],
    ['a device that is not an object', { [DEVICE]: 5 }, '', /expected a device object/],
    ['no apps', doc(({ device }) => delete device.apps), 'apps', /expected an object of apps/],
    [
      'two releases',
      doc(({ app, release }) => (app.releases.other = structuredClone(release))),
      `apps.${APP}.releases`,
      /app "sensor-app" \(a1b2.*\) has 2 releases .*at most one/,
    ],
    [
      'image missing',
      doc(({ main }) => delete main.image),
      `${SVC}.image`,
      /expected a non-empty string, found nothing/,
    ],
    [
      'app id not a number',
      doc(({ app }) => (app.id = '1234')),
      `apps.${APP}.id`,
      /positive whole number.*"1234"/,
    ],
    [
      'release id missing',
      doc(({ release }) => delete release.id),
      `apps.${APP}.releases.${COMMIT}.id`,
      /positive/,
    ],
    [
      'image_id zero',
      doc(({ main }) => (main.image_id = 0)),
      `${SVC}.image_id`,
      /positive whole number, found number 0/,
    ],
    ['service id a fraction', doc(({ main }) => (main.id = 2.5)), `${SVC}.id`, /positive whole number/],
    ['running a string', doc(({ main }) => (main.running = 'yes')), `${SVC}.running`, /true or false/],
    [
      'an environment value that is an object',
      doc(({ main }) => (main.environment.MODE = { a: 1 })),
      `${SVC}.environment.MODE`,
      /expected a string, number or boolean, found an object/,
    ],
    [
      'a config value that is an object',
      doc(({ device }) => (device.config.X = [])),
      'config.X',
      /found an array/,
    ],
    [
      'service name ../x',
      doc(({ release, main }) => (release.services['../x'] = main)),
      `apps.${APP}.releases.${COMMIT}.services["../x"]`,
      /service name "\.\.\/x" is invalid/,
    ],
    [
      'an app uuid with a slash',
      doc(({ device, app }) => (device.apps['a/b'] = app)),
      'apps["a/b"]',
      /app uuid/,
    ],
    [
      'a bad restart value',
      doc(({ main }) => (main.composition.restart = 'sometimes')),
      `${SVC}.composition.restart`,
      /one of no, always, on-failure, unless-stopped, found the string "sometimes"/,
    ],
    [
      'network_mode bridge',
      doc(({ main }) => (main.composition.network_mode = 'bridge')),
      `${SVC}.composition.network_mode`,
      /network_mode "bridge" is not supported.*"host".*"none"/,
    ],
    [
      'an undeclared volume',
      doc(({ main }) => (main.composition.volumes = ['cache:/cache'])),
      `${SVC}.composition.volumes[0]`,
      /volume "cache" is not declared in the release's volumes \(declared: none\)/,
    ],
    [
      'depends_on an unknown service',
      doc(({ main }) => (main.composition.depends_on = ['db'])),
      `${SVC}.composition.depends_on`,
      /"db" is not a service of this release/,
    ],
    [
      'a depends_on cycle',
      doc(({ release, main }) => {
        main.composition.depends_on = ['b'];
        release.services.b = { ...structuredClone(main), composition: { depends_on: ['main'] } };
      }),
      `apps.${APP}.releases.${COMMIT}.services`,
      /cycle: main -> b -> main/,
    ],
    [
      'a bad duration',
      doc(({ main }) => (main.composition.stop_grace_period = '10 parsecs')),
      `${SVC}.composition.stop_grace_period`,
      /expected a duration such as "10s"/,
    ],
    [
      'an unterminated quote in a command string',
      doc(({ main }) => (main.composition.command = 'echo "hi')),
      `${SVC}.composition.command`,
      /unterminated double quote/,
    ],
    [
      'a command that is a number',
      doc(({ main }) => (main.composition.command = 5)),
      `${SVC}.composition.command`,
      /a string or an array of strings, found number 5/,
    ],
    [
      'a composition that is an array',
      doc(({ main }) => (main.composition = [])),
      `${SVC}.composition`,
      /expected an object, found an array/,
    ],
  ];

  it.each(cases)('rejects %s with the path in the message', (_what, body, path, message) => {
    const err = rejection(body);
    expect(err.path).toBe(path);
    if (path !== '') expect(err.message.startsWith(`${path}: `)).toBe(true);
    expect(err.message).toMatch(message);
  });

  it('raises a terminal BosunError with code ETARGET_INVALID', () => {
    const err = rejection('nope');
    expect(err).toBeInstanceOf(BosunError);
    expect(err.code).toBe('ETARGET_INVALID');
    expect(err.transient).toBe(false);
  });

  it('accepts an unsupported composition key with a warning naming its path', () => {
    const body = doc(({ main }) => (main.composition.blkio_config = { weight: 300 }));
    const { target, warnings } = parseTargetDocument(body, DEVICE);
    expect(warnings).toEqual([
      {
        path: `${SVC}.composition.blkio_config`,
        message: 'unsupported composition key "blkio_config" ignored',
      },
    ]);
    expect(target.apps[APP].release!.services.main.composition).not.toHaveProperty('blkio_config');
  });

  it('skips a bind mount with a warning naming its path; the rest of the service stays', () => {
    const body = doc(({ main }) => (main.composition.volumes = ['/etc:/host-etc', '/var/cache']));
    const { target, warnings } = parseTargetDocument(body, DEVICE);
    expect(warnings).toEqual([
      {
        path: `${SVC}.composition.volumes[0]`,
        message: expect.stringMatching(/^bind mount "\/etc:\/host-etc" not applied/),
      },
    ]);
    expect(target.apps[APP].release!.services.main.composition.volumes).toEqual([
      { target: '/var/cache', readOnly: false },
    ]);
  });

  it('falls back to download-then-kill with a warning on an unknown strategy', () => {
    const body = doc(({ main }) => (main.labels['io.balena.update.strategy'] = 'yolo'));
    const { target, warnings } = parseTargetDocument(body, DEVICE);
    expect(target.apps[APP].release!.services.main.strategy).toBe('download-then-kill');
    expect(warnings).toEqual([
      {
        path: `${SVC}.labels["io.balena.update.strategy"]`,
        message: expect.stringContaining('unknown update strategy "yolo"'),
      },
    ]);
  });
});

describe('target/validate parseDeviceObject', () => {
  it('validates a bare device object and prefixes paths', () => {
    const device = JSON.parse(FIXTURE)[DEVICE];
    expect(parseDeviceObject(device, DEVICE).target.apps[APP].appId).toBe(1234);
    delete device.apps[APP].releases[COMMIT].services.main.image;
    expect(() => parseDeviceObject(device, DEVICE, 'file')).toThrow(
      `file.${SVC}.image: expected a non-empty string`,
    );
  });
});
