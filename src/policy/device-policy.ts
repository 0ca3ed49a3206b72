/**
 * The device policy of contract section 11: what a target may ask of this device. The device
 * owner writes it as JSON in the file named by BOSUN_POLICY_FILE; no file means balena's rules
 * (everything of section 9 allowed), and a key left out of the file allows what it governs.
 *
 * `checkDevicePolicy` is pure and runs where targets are accepted (agent/target-keeper.ts), never in
 * the shared validation: the fleet validates releases with that too, and no device's policy
 * applies to a push.
 */
import { promises as fs } from 'node:fs';
import { BosunError, ConfigError, errorMessage } from '../util/errors.js';
import { normaliseCapability } from '../target/compose-hardware.js';
import { FEATURES, enabledFeatures, featureNamed, type Feature } from '../target/features.js';
import { isPlainObject } from '../target/fields.js';
import type { TargetService, TargetState } from '../target/types.js';
import { matchesAny } from './glob.js';

export interface DevicePolicy {
  /** `privileged: true`. */
  allowPrivileged?: boolean;
  /** `network_mode: host`, `pid: host`, `ipc: host`. */
  allowHostNetwork?: boolean;
  /** Globs of host device paths a service may map in (`devices`). */
  allowedDevices?: string[];
  /** Capabilities a service may add (`cap_add`), upper case without `CAP_`; `ALL` only if listed. */
  allowedCapabilities?: string[];
  /** Feature labels a service may turn on. */
  allowedFeatures?: Feature[];
  /** Globs of image references (`127.0.0.1:5000/acme/*`), matched against the full reference. */
  allowedImages?: string[];
}

const KEYS = [
  'allowPrivileged',
  'allowHostNetwork',
  'allowedDevices',
  'allowedCapabilities',
  'allowedFeatures',
  'allowedImages',
] as const;

/** A target asks for more than the device policy allows. Never transient: the same target fails again. */
export class DevicePolicyError extends BosunError {
  override name = 'DevicePolicyError';
  constructor(message: string) {
    super('EDEVICE_POLICY', message, { transient: false });
  }
}

function patternList(value: unknown, where: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || item.trim() === '')) {
    throw new ConfigError(`${where}: expected an array of non-empty strings (glob patterns)`);
  }
  return value as string[];
}

/** Parses and checks the policy document; a ConfigError names the file, the key and what is wrong. */
export function parseDevicePolicy(document: unknown, file: string): DevicePolicy {
  if (!isPlainObject(document)) {
    throw new ConfigError(`BOSUN_POLICY_FILE ${file}: expected a JSON object of policy keys`);
  }
  const policy: DevicePolicy = {};
  for (const [key, value] of Object.entries(document)) {
    const where = `BOSUN_POLICY_FILE ${file}: ${key}`;
    switch (key) {
      case 'allowPrivileged':
      case 'allowHostNetwork':
        if (typeof value !== 'boolean') throw new ConfigError(`${where}: expected true or false`);
        policy[key] = value;
        break;
      case 'allowedDevices':
        policy.allowedDevices = patternList(value, where);
        break;
      case 'allowedImages':
        policy.allowedImages = patternList(value, where);
        break;
      case 'allowedCapabilities':
        policy.allowedCapabilities = patternList(value, where).map((cap) => {
          const name = normaliseCapability(cap);
          if (!/^[A-Z][A-Z0-9_]*$/.test(name)) {
            throw new ConfigError(`${where}: ${JSON.stringify(cap)} is not a capability name`);
          }
          return name;
        });
        break;
      case 'allowedFeatures':
        policy.allowedFeatures = patternList(value, where).map((name) => {
          const feature = featureNamed(name);
          if (feature === undefined) {
            throw new ConfigError(
              `${where}: unknown feature ${JSON.stringify(name)} (known: ${FEATURES.join(', ')})`,
            );
          }
          return feature;
        });
        break;
      default:
        throw new ConfigError(
          `BOSUN_POLICY_FILE ${file}: unknown key ${JSON.stringify(key)} (known: ${KEYS.join(', ')})`,
        );
    }
  }
  return policy;
}

/** The policy in `file`; undefined when no file is named (balena's rules). */
export async function loadDevicePolicy(file: string): Promise<DevicePolicy | undefined> {
  if (file === '') return undefined;
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`BOSUN_POLICY_FILE ${file}: cannot read it: ${errorMessage(err)}`, { cause: err });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`BOSUN_POLICY_FILE ${file}: not JSON: ${errorMessage(err)}`, { cause: err });
  }
  return parseDevicePolicy(document, file);
}

/**
 * Throws DevicePolicyError at the first service that asks for more than `policy` allows, naming
 * the app, the service, the key and the rule. Pure.
 */
export function checkDevicePolicy(target: TargetState, policy: DevicePolicy): void {
  for (const app of Object.values(target.apps)) {
    for (const service of Object.values(app.release?.services ?? {})) {
      const broken = firstBreach(service, policy);
      if (broken !== undefined) {
        const appName = app.name === '' ? app.appUuid : `"${app.name}" (${app.appUuid})`;
        throw new DevicePolicyError(
          `device policy: app ${appName}, service "${service.serviceName}": ${broken.key} ${broken.asks}, ` +
            `but ${broken.rule} (BOSUN_POLICY_FILE)`,
        );
      }
    }
  }
}

interface Breach {
  /** The key as the release writes it. */
  key: string;
  asks: string;
  rule: string;
}

function firstBreach(service: TargetService, policy: DevicePolicy): Breach | undefined {
  const c = service.composition;
  if (policy.allowedImages !== undefined && !matchesAny(policy.allowedImages, service.image)) {
    return {
      key: 'image',
      asks: `is ${service.image}`,
      rule: `allowedImages allows only ${policy.allowedImages.join(', ')}`,
    };
  }
  if (policy.allowPrivileged === false && c.privileged === true) {
    return { key: 'privileged', asks: 'is true', rule: 'allowPrivileged is false' };
  }
  if (policy.allowHostNetwork === false) {
    if (c.networkMode === 'host') {
      return { key: 'network_mode', asks: 'is host', rule: 'allowHostNetwork is false' };
    }
    if (c.pid === 'host') return { key: 'pid', asks: 'is host', rule: 'allowHostNetwork is false' };
    if (c.ipc === 'host') return { key: 'ipc', asks: 'is host', rule: 'allowHostNetwork is false' };
  }
  if (policy.allowedDevices !== undefined) {
    const allowed = policy.allowedDevices;
    const device = (c.devices ?? []).find((d) => !matchesAny(allowed, d.pathOnHost));
    if (device !== undefined) {
      return {
        key: 'devices',
        asks: `maps ${device.pathOnHost}`,
        rule: `allowedDevices allows only ${allowed.join(', ') || 'none'}`,
      };
    }
    // With mknod (in Docker's default set) a cgroup rule opens any device of its numbers.
    if ((c.deviceCgroupRules ?? []).length > 0) {
      return {
        key: 'device_cgroup_rules',
        asks: `asks for ${c.deviceCgroupRules!.join(', ')}`,
        rule: 'allowedDevices is set, and cgroup rules would open devices beyond it',
      };
    }
  }
  if (policy.allowedCapabilities !== undefined) {
    const allowed = policy.allowedCapabilities;
    const cap = (c.capAdd ?? []).find((name) => !allowed.includes(name));
    if (cap !== undefined) {
      return {
        key: 'cap_add',
        asks: `asks for ${cap}`,
        rule: `allowedCapabilities allows only ${allowed.join(', ') || 'none'}`,
      };
    }
  }
  if (policy.allowedFeatures !== undefined) {
    const allowed = policy.allowedFeatures;
    const feature = enabledFeatures({ ...c.labels, ...service.labels }).find((f) => !allowed.includes(f));
    if (feature !== undefined) {
      return {
        key: `labels io.balena.features.${feature}`,
        asks: 'turns the feature on',
        rule: `allowedFeatures allows only ${allowed.join(', ') || 'none'}`,
      };
    }
  }
  return undefined;
}
