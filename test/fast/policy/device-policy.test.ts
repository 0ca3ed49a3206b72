import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  DevicePolicyError,
  checkDevicePolicy,
  loadDevicePolicy,
  parseDevicePolicy,
  type DevicePolicy,
} from '../../../src/policy/device-policy.js';
import { globMatcher } from '../../../src/policy/glob.js';
import { admitTarget } from '../../../src/policy/target-admission.js';
import { parseComposition } from '../../../src/target/composition.js';
import { parseReleaseObject } from '../../../src/target/validate.js';
import type { TargetState } from '../../../src/target/types.js';
import { ConfigError } from '../../../src/util/errors.js';
import { app, service, target } from '../../helpers/builders.js';

/** A target of one app "sensors" with one service "main" made from compose keys and labels. */
function targetWith(
  raw: Record<string, unknown>,
  over: { image?: string; labels?: Record<string, string> } = {},
): TargetState {
  const svc = service('main', {
    composition: parseComposition(raw, 'c', []),
    ...(over.image !== undefined && { image: over.image }),
    ...(over.labels !== undefined && { labels: over.labels }),
  });
  const a = { ...app('app-1', 7, { uuid: 'rel-1', id: 1, services: [svc] }), name: 'sensors' };
  return target(a);
}

function violation(t: TargetState, policy: DevicePolicy): string {
  try {
    checkDevicePolicy(t, policy);
  } catch (err) {
    if (err instanceof DevicePolicyError) return err.message;
    throw err;
  }
  throw new Error('the target passed the policy');
}

describe('policy/glob', () => {
  it.each([
    ['/dev/ttyUSB*', '/dev/ttyUSB0', true],
    ['/dev/ttyUSB*', '/dev/ttyACM0', false],
    ['/dev/*', '/dev/bus/usb/001', false],
    ['/dev/**', '/dev/bus/usb/001', true],
    ['/dev/video?', '/dev/video1', true],
    ['/dev/video?', '/dev/video10', false],
    ['127.0.0.1:5000/acme/*', '127.0.0.1:5000/acme/app:1', true],
    ['127.0.0.1:5000/acme/*', '127.0.0.1:5000/other/app:1', false],
    ['127.0.0.1:5000/acme/*', '127.0.0.1:5000/acme/team/app:1', false],
    ['127.0.0.1:5000/acme/app:1', '127.0.0.1:5000/acme/app:1', true],
    ['a.b', 'axb', false],
    ['x(1)+', 'x(1)+', true],
  ])('%s against %s: %s', (pattern, text, matches) => {
    expect(globMatcher(pattern)(text)).toBe(matches);
  });
});

describe('policy/device-policy: the policy file', () => {
  it('reads every key, normalising capability and feature names', () => {
    expect(
      parseDevicePolicy(
        {
          allowPrivileged: false,
          allowHostNetwork: true,
          allowedDevices: ['/dev/ttyUSB*'],
          allowedCapabilities: ['cap_net_admin', 'SYS_RAWIO'],
          allowedFeatures: ['dbus', 'io.balena.features.sysfs', 'io.resin.features.gpu'],
          allowedImages: ['127.0.0.1:5000/acme/*'],
        },
        'p.json',
      ),
    ).toEqual({
      allowPrivileged: false,
      allowHostNetwork: true,
      allowedDevices: ['/dev/ttyUSB*'],
      allowedCapabilities: ['NET_ADMIN', 'SYS_RAWIO'],
      allowedFeatures: ['dbus', 'sysfs', 'gpu'],
      allowedImages: ['127.0.0.1:5000/acme/*'],
    });
    expect(parseDevicePolicy({}, 'p.json')).toEqual({});
  });

  it.each([
    [[], /expected a JSON object/],
    [{ allowPrivilege: false }, /unknown key "allowPrivilege" \(known: allowPrivileged,/],
    [{ allowPrivileged: 'no' }, /allowPrivileged: expected true or false/],
    [{ allowHostNetwork: 0 }, /allowHostNetwork: expected true or false/],
    [{ allowedDevices: '/dev/*' }, /allowedDevices: expected an array of non-empty strings/],
    [{ allowedImages: [''] }, /allowedImages: expected an array of non-empty strings/],
    [{ allowedCapabilities: ['NET ADMIN'] }, /"NET ADMIN" is not a capability name/],
    [{ allowedFeatures: ['teleport'] }, /unknown feature "teleport" \(known: balena-socket,/],
  ])('refuses %j with a ConfigError naming the file and key', (document, message) => {
    let err: unknown;
    try {
      parseDevicePolicy(document, '/etc/bosun/policy.json');
    } catch (caught) {
      err = caught;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/^BOSUN_POLICY_FILE \/etc\/bosun\/policy\.json: /);
    expect((err as Error).message).toMatch(message);
  });

  it('loads no policy for an empty setting, and refuses a missing or non-JSON file', async () => {
    await expect(loadDevicePolicy('')).resolves.toBeUndefined();
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-policy-'));
    try {
      await expect(loadDevicePolicy(path.join(dir, 'absent.json'))).rejects.toThrow(/cannot read it/);
      const bad = path.join(dir, 'bad.json');
      await fs.writeFile(bad, '{ allowPrivileged: false }');
      await expect(loadDevicePolicy(bad)).rejects.toThrow(/not JSON/);
      const good = path.join(dir, 'good.json');
      await fs.writeFile(good, '{ "allowPrivileged": false }');
      await expect(loadDevicePolicy(good)).resolves.toEqual({ allowPrivileged: false });
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('policy/device-policy: checkDevicePolicy', () => {
  it.each([
    [
      'privileged',
      { network_mode: 'none', privileged: true },
      { allowPrivileged: false },
      /privileged is true, but allowPrivileged is false/,
    ],
    [
      'host networking',
      { network_mode: 'host' },
      { allowHostNetwork: false },
      /network_mode is host, but allowHostNetwork is false/,
    ],
    ['pid host', { network_mode: 'none', pid: 'host' }, { allowHostNetwork: false }, /pid is host/],
    ['ipc host', { network_mode: 'none', ipc: 'host' }, { allowHostNetwork: false }, /ipc is host/],
    [
      'a device outside the list',
      { network_mode: 'none', devices: ['/dev/ttyUSB0', '/dev/mem'] },
      { allowedDevices: ['/dev/ttyUSB*'] },
      /devices maps \/dev\/mem, but allowedDevices allows only \/dev\/ttyUSB\*/,
    ],
    [
      'a cgroup rule beside a device list',
      { network_mode: 'none', device_cgroup_rules: ['c 1:1 rwm'] },
      { allowedDevices: ['/dev/ttyUSB*'] },
      /device_cgroup_rules asks for c 1:1 rwm, but allowedDevices is set/,
    ],
    [
      'NET_RAW not listed',
      { cap_add: ['NET_RAW'] },
      { allowedCapabilities: ['NET_ADMIN'] },
      /cap_add asks for NET_RAW, but allowedCapabilities allows only NET_ADMIN/,
    ],
    [
      'ALL not listed',
      { network_mode: 'none', cap_add: ['ALL'] },
      { allowedCapabilities: ['NET_ADMIN'] },
      /cap_add asks for ALL/,
    ],
    [
      'no capability at all',
      { network_mode: 'none', cap_add: ['SYS_TIME'] },
      { allowedCapabilities: [] },
      /allowedCapabilities allows only none/,
    ],
  ])('rejects %s, naming app, service, key and rule', (_what, raw, policy, message) => {
    const text = violation(targetWith(raw), policy as DevicePolicy);
    expect(text).toMatch(/^device policy: app "sensors" \(app-1\), service "main": /);
    expect(text).toMatch(message);
    expect(text).toMatch(/\(BOSUN_POLICY_FILE\)$/);
  });

  it('rejects an image outside allowedImages and a feature outside allowedFeatures', () => {
    expect(
      violation(targetWith({ network_mode: 'none' }, { image: '127.0.0.1:5000/evil/app:1' }), {
        allowedImages: ['127.0.0.1:5000/acme/*'],
      }),
    ).toMatch(
      /image is 127\.0\.0\.1:5000\/evil\/app:1, but allowedImages allows only 127\.0\.0\.1:5000\/acme\/\*/,
    );
    expect(
      violation(
        targetWith(
          { network_mode: 'none', labels: { 'io.resin.features.procfs': '1' } },
          { labels: { 'io.balena.features.dbus': '1' } },
        ),
        { allowedFeatures: ['dbus'] },
      ),
    ).toMatch(
      /labels io\.balena\.features\.procfs turns the feature on, but allowedFeatures allows only dbus/,
    );
  });

  it('passes what the policy allows, and everything under an empty policy', () => {
    const asking = targetWith(
      {
        privileged: true,
        cap_add: ['NET_RAW', 'ALL'],
        devices: ['/dev/ttyUSB0'],
        pid: 'host',
        labels: { 'io.balena.features.dbus': '1' },
      },
      { image: '127.0.0.1:5000/acme/app:1' },
    );
    expect(() => checkDevicePolicy(asking, {})).not.toThrow();
    expect(() =>
      checkDevicePolicy(asking, {
        allowPrivileged: true,
        allowHostNetwork: true,
        allowedDevices: ['/dev/ttyUSB*'],
        allowedCapabilities: ['NET_RAW', 'ALL'],
        allowedFeatures: ['dbus'],
        allowedImages: ['127.0.0.1:5000/acme/*'],
      }),
    ).not.toThrow();
    // A feature label set to a false value is not asked for.
    const off = targetWith({ network_mode: 'none' }, { labels: { 'io.balena.features.dbus': '0' } });
    expect(() => checkDevicePolicy(off, { allowedFeatures: [] })).not.toThrow();
  });

  it('is not part of the shared validation: the fleet validates a privileged release as valid', () => {
    const release = {
      id: 1,
      services: { main: { id: 1, image_id: 1, image: 'a:1', composition: { privileged: true } } },
    };
    expect(parseReleaseObject('rel', release).release.services.main.composition.privileged).toBe(true);
  });
});

describe('policy/target-admission', () => {
  it('warns about balena-socket when the engine is reached over TCP, and checks the policy', () => {
    const t = targetWith({ network_mode: 'none' }, { labels: { 'io.balena.features.balena-socket': '1' } });
    expect(admitTarget(t, { hostDockerSocket: '/var/run/docker.sock' })).toEqual([]);
    expect(admitTarget(t, {})).toEqual([
      {
        path: 'apps.app-1.releases.rel-1.services.main.labels',
        message: expect.stringMatching(/^io\.balena\.features\.balena-socket not applied: .* over TCP/),
      },
    ]);
    expect(() => admitTarget(t, { policy: { allowedFeatures: [] } })).toThrow(DevicePolicyError);
  });
});
