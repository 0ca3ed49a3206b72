import { describe, expect, it } from '@jest/globals';
import { parseReleaseObject, TargetValidationError } from '../../../src/target/validate.js';
import { parseV2LocalTarget } from '../../../src/target/v2-local.js';

type Json = Record<string, unknown>;

/** A release of `services` (compositions by name) and release-level `networks`. */
function release(services: Record<string, Json>, networks?: Json): Json {
  let id = 0;
  return {
    id: 1,
    services: Object.fromEntries(
      Object.entries(services).map(([name, composition]) => {
        id += 1;
        return [name, { id, image_id: id, image: 'reg/app:1', composition }];
      }),
    ),
    ...(networks !== undefined && { networks }),
  };
}

function parse(services: Record<string, Json>, networks?: Json) {
  return parseReleaseObject('rel1', release(services, networks));
}

function rejection(services: Record<string, Json>, networks?: Json): TargetValidationError {
  try {
    parse(services, networks);
  } catch (err) {
    if (err instanceof TargetValidationError) return err;
    throw err;
  }
  throw new Error('release was accepted');
}

describe('target/compose-networks: services and their networks', () => {
  it('a service without network_mode joins the default network, declared for it', () => {
    const { release: r } = parse({ web: {} });
    expect(r.services.web!.composition).toMatchObject({
      networkMode: 'app',
      networks: [{ name: 'default' }],
    });
    expect(r.networks).toEqual({ default: { driver: 'bridge' } });
  });

  it('host and none keep their meaning and declare no network', () => {
    const { release: r } = parse({ a: { network_mode: 'host' }, b: { network_mode: 'none' } });
    expect(r.services.a!.composition.networkMode).toBe('host');
    expect(r.services.b!.composition.networks).toBeUndefined();
    expect(r.networks).toEqual({});
  });

  it('reads the list and the map form, with aliases and a fixed address', () => {
    const { release: r } = parse(
      {
        web: { networks: { front: { aliases: ['www', 'www'], ipv4_address: '172.30.0.10' }, back: null } },
        db: { networks: ['back'] },
      },
      {
        front: {
          driver: 'bridge',
          ipam: {
            driver: 'default',
            config: [{ subnet: '172.30.0.0/24', gateway: '172.30.0.1', ip_range: '172.30.0.128/25' }],
          },
        },
        back: {
          internal: true,
          enable_ipv6: false,
          driver_opts: { 'com.docker.network.bridge.name': 'br-back' },
          labels: ['tier=back'],
        },
      },
    );
    expect(r.services.web!.composition.networks).toEqual([
      { name: 'front', aliases: ['www'], ipv4Address: '172.30.0.10' },
      { name: 'back' },
    ]);
    expect(r.services.db!.composition.networks).toEqual([{ name: 'back' }]);
    expect(r.networks).toEqual({
      front: {
        driver: 'bridge',
        ipam: {
          driver: 'default',
          config: [{ subnet: '172.30.0.0/24', gateway: '172.30.0.1', ipRange: '172.30.0.128/25' }],
        },
      },
      back: {
        driver: 'bridge',
        internal: true,
        enableIpv6: false,
        driverOpts: { 'com.docker.network.bridge.name': 'br-back' },
        labels: { tier: 'back' },
      },
    });
  });

  it('network_mode service:<name> names another service', () => {
    const { release: r } = parse({ web: {}, side: { network_mode: 'service:web' } });
    expect(r.services.side!.composition.networkMode).toBe('service:web');
  });

  it('warns about unknown network keys, naming their paths', () => {
    const { warnings } = parse(
      { web: { networks: { default: { priority: 1 } } } },
      {
        default: {
          external: false,
          ipam: { options: {}, config: [{ subnet: '10.9.0.0/16', aux_addresses: {} }] },
        },
      },
    );
    expect(warnings.map((w) => w.path).sort()).toEqual([
      'networks.default.external',
      'networks.default.ipam.config[0].aux_addresses',
      'networks.default.ipam.options',
      'services.web.composition.networks.default.priority',
    ]);
  });

  const C = 'services.web.composition';
  it.each([
    [
      'an undeclared network',
      [{ web: { networks: ['back'] } }],
      `${C}.networks.back`,
      /"back" is not declared in the release's networks \(declared: none\)/,
    ],
    [
      'networks beside network_mode',
      [{ web: { network_mode: 'host', networks: ['default'] } }],
      `${C}.networks`,
      /cannot be set with network_mode "host"/,
    ],
    [
      'network_mode bridge',
      [{ web: { network_mode: 'bridge' } }],
      `${C}.network_mode`,
      /"bridge" is not supported/,
    ],
    [
      'service: naming itself',
      [{ web: { network_mode: 'service:web' } }],
      `${C}.network_mode`,
      /cannot share its own network stack/,
    ],
    [
      'service: naming no service',
      [{ web: { network_mode: 'service:db' } }],
      `${C}.network_mode`,
      /"db" is not a service of this release/,
    ],
    [
      'service: with ports',
      [{ web: { network_mode: 'service:db', ports: ['80'] }, db: {} }],
      `${C}.ports`,
      /cannot be set with network_mode service:db/,
    ],
    [
      'a cycle through network_mode',
      [{ web: { network_mode: 'service:db' }, db: { depends_on: ['web'] } }],
      'services',
      /depends_on has a cycle/,
    ],
    [
      'a bad alias',
      [{ web: { networks: { default: { aliases: ['no spaces'] } } } }],
      `${C}.networks.default.aliases[0]`,
      /a host name/,
    ],
    [
      'a fixed address without a subnet',
      [{ web: { networks: { default: { ipv4_address: '10.0.0.5' } } } }],
      `${C}.networks.default.ipv4_address`,
      /needs a subnet/,
    ],
    [
      'a fixed address outside the subnet',
      [
        { web: { networks: { n: { ipv4_address: '10.1.0.5' } } } },
        { n: { ipam: { config: [{ subnet: '10.0.0.0/16' }] } } },
      ],
      `${C}.networks.n.ipv4_address`,
      /10\.1\.0\.5 is not in a subnet of network "n" \(10\.0\.0\.0\/16\)/,
    ],
    [
      'another driver',
      [{ web: {} }, { default: { driver: 'overlay' } }],
      'networks.default.driver',
      /"overlay" is not supported/,
    ],
    [
      'a bad subnet',
      [{ web: {} }, { default: { ipam: { config: [{ subnet: '10.0.0.0/33' }] } } }],
      'networks.default.ipam.config[0].subnet',
      /CIDR/,
    ],
    [
      'a gateway outside its subnet',
      [{ web: {} }, { default: { ipam: { config: [{ subnet: '10.0.0.0/24', gateway: '10.0.1.1' }] } } }],
      'networks.default.ipam.config[0].gateway',
      /gateway 10\.0\.1\.1 is not in subnet 10\.0\.0\.0\/24/,
    ],
    [
      'an ip_range outside its subnet',
      [{ web: {} }, { default: { ipam: { config: [{ subnet: '10.0.0.0/24', ip_range: '10.0.0.0/16' }] } } }],
      'networks.default.ipam.config[0].ip_range',
      /not within subnet/,
    ],
    [
      'internal not a boolean',
      [{ web: {} }, { default: { internal: 'yes' } }],
      'networks.default.internal',
      /true or false/,
    ],
    [
      'ipam config not a list',
      [{ web: {} }, { default: { ipam: { config: {} } } }],
      'networks.default.ipam.config',
      /an array/,
    ],
    ['a bad network name', [{ web: {} }, { 'a b': {} }], 'networks["a b"]', /a name of letters/],
  ])('%s is refused with its path', (_name, [services, networks], path, message) => {
    const err = rejection(services as Record<string, Json>, networks as Json | undefined);
    expect(err.path).toBe(path);
    expect(err.reason).toMatch(message);
  });
});

describe('target/v2-local: the balena v2 shape with networks', () => {
  it("takes networks: ['default'], ports and a release network with ipam", () => {
    const body = {
      local: {
        name: 'dev',
        config: {},
        apps: {
          '7': {
            name: 'two',
            commit: 'c1',
            releaseId: 1,
            services: {
              '1': {
                serviceName: 'web',
                imageId: 1,
                image: 'reg/web:1',
                networks: ['default'],
                ports: ['8080'],
              },
              '2': { serviceName: 'client', imageId: 2, image: 'reg/web:1', networks: ['default'] },
            },
            networks: {
              default: { ipam: { config: [{ subnet: '172.31.250.0/24', gateway: '172.31.250.1' }] } },
            },
          },
        },
      },
    };
    const { target, warnings } = parseV2LocalTarget(body, 'dev1');
    expect(warnings).toEqual([]);
    const r = target.apps['7']!.release!;
    expect(r.networks.default).toEqual({
      driver: 'bridge',
      ipam: { config: [{ subnet: '172.31.250.0/24', gateway: '172.31.250.1' }] },
    });
    expect(r.services.web!.composition).toMatchObject({
      networkMode: 'app',
      networks: [{ name: 'default' }],
      ports: [{ containerPort: 8080, protocol: 'tcp', published: true }],
    });
  });
});
