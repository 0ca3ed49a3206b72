/**
 * The hardware and privilege keys of a composition (contract section 9): what a service may do
 * to the host beyond its own container. Each parser names the field's path and what it expected;
 * the device policy (policy/device-policy.ts) decides later whether this device allows it.
 */
import { TargetValidationError, expectNonEmptyString, fail, isPlainObject, join } from './fields.js';
import { integerIn, nonEmptyStrings, stringMapOrList } from './compose-values.js';
import type { DeviceMapping, Ulimit } from './types.js';

const PERMISSIONS = /^(?!.*(.).*\1)[rwm]{1,3}$/;

function devicePath(text: string, path: string, what: string): string {
  if (!text.startsWith('/') || /[\s:]/.test(text)) fail(path, `${what} as an absolute path`, text);
  return text;
}

function permissions(text: string, path: string): string {
  if (!PERMISSIONS.test(text)) fail(path, 'device permissions, a combination of r, w and m', text);
  return text;
}

/**
 * `/dev/ttyUSB0`, `/dev/a:/dev/b`, `/dev/a:/dev/b:rw`, `/dev/a:rw` (Docker's own reading: a
 * second part made of r, w and m is the permissions), or `{ source, target, permissions }`.
 */
function device(value: unknown, path: string): DeviceMapping {
  if (isPlainObject(value)) {
    const pathOnHost = devicePath(
      expectNonEmptyString(value.source, join(path, 'source')),
      join(path, 'source'),
      'the host device',
    );
    const target = value.target ?? pathOnHost;
    const pathInContainer = devicePath(
      expectNonEmptyString(target, join(path, 'target')),
      join(path, 'target'),
      'the container path',
    );
    const perms = value.permissions ?? 'rwm';
    if (typeof perms !== 'string') fail(join(path, 'permissions'), 'a string such as "rwm"', perms);
    return { pathOnHost, pathInContainer, cgroupPermissions: permissions(perms, join(path, 'permissions')) };
  }
  if (typeof value !== 'string')
    return fail(path, 'a device such as "/dev/ttyUSB0" or "/dev/a:/dev/b:rwm"', value);
  const parts = value.split(':');
  if (parts.length > 3) fail(path, 'a device such as "/dev/ttyUSB0" or "/dev/a:/dev/b:rwm"', value);
  const pathOnHost = devicePath(parts[0], path, 'the host device');
  if (parts.length === 2 && PERMISSIONS.test(parts[1])) {
    return { pathOnHost, pathInContainer: pathOnHost, cgroupPermissions: parts[1] };
  }
  return {
    pathOnHost,
    pathInContainer: parts.length > 1 ? devicePath(parts[1], path, 'the container path') : pathOnHost,
    cgroupPermissions: parts.length > 2 ? permissions(parts[2], path) : 'rwm',
  };
}

export function parseDevices(value: unknown, path: string): DeviceMapping[] {
  if (!Array.isArray(value)) return fail(path, 'an array of devices', value);
  return value.map((item, i) => device(item, join(path, i)));
}

/** `c 188:* rwm`: the device type (a, b, c), major:minor (numbers or *), permissions. */
const CGROUP_RULE = /^[abc] (\d+|\*):(\d+|\*) (?!.*(.).*\3)[rwm]{1,3}$/;

export function parseDeviceCgroupRules(value: unknown, path: string): string[] {
  const rules = nonEmptyStrings(value, path);
  rules.forEach((rule, i) => {
    if (!CGROUP_RULE.test(rule.trim())) {
      fail(Array.isArray(value) ? join(path, i) : path, 'a device cgroup rule such as "c 188:* rwm"', rule);
    }
  });
  return rules.map((rule) => rule.trim());
}

/** Capability names upper case and without `CAP_`, as Docker compares them. */
export function normaliseCapability(name: string): string {
  return name.trim().toUpperCase().replace(/^CAP_/, '');
}

export function parseCapabilities(value: unknown, path: string): string[] {
  const caps = nonEmptyStrings(value, path).map(normaliseCapability);
  caps.forEach((cap, i) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(cap)) {
      fail(
        Array.isArray(value) ? join(path, i) : path,
        'a capability name such as "NET_ADMIN" or "ALL"',
        cap,
      );
    }
  });
  return [...new Set(caps)];
}

export function parseSecurityOpt(value: unknown, path: string): string[] {
  const opts = nonEmptyStrings(value, path);
  opts.forEach((opt, i) => {
    if (/[\n\r\0]/.test(opt))
      fail(Array.isArray(value) ? join(path, i) : path, 'one security option per line', opt);
  });
  return opts;
}

export function parseSysctls(value: unknown, path: string): Record<string, string> {
  const sysctls = stringMapOrList(value, path);
  for (const name of Object.keys(sysctls)) {
    if (!/^[a-z0-9_]+(?:[./][a-zA-Z0-9_-]+)+$/.test(name)) {
      fail(join(path, name), 'a kernel parameter name such as "net.core.somaxconn"', name);
    }
  }
  return sysctls;
}

/** A ulimit value: a whole number, -1 for unlimited. */
function limitValue(value: unknown, path: string): number {
  return integerIn(value, path, -1, Number.MAX_SAFE_INTEGER);
}

/** `{ nofile: 1024 }` or `{ nofile: { soft: 1024, hard: 4096 } }`, sorted by name. */
export function parseUlimits(value: unknown, path: string): Ulimit[] {
  if (!isPlainObject(value)) return fail(path, 'a map of limits such as { "nofile": 1024 }', value);
  const limits: Ulimit[] = Object.entries(value).map(([name, limit]) => {
    const at = join(path, name);
    if (!/^[a-z]+$/.test(name)) fail(at, 'a limit name such as "nofile" or "memlock"', name);
    if (isPlainObject(limit)) {
      const soft = limitValue(limit.soft, join(at, 'soft'));
      const hard = limitValue(limit.hard, join(at, 'hard'));
      if (hard !== -1 && (soft === -1 || soft > hard)) {
        throw new TargetValidationError(at, `the soft limit ${soft} is above the hard limit ${hard}`);
      }
      return { name, soft, hard };
    }
    const both = limitValue(limit, at);
    return { name, soft: both, hard: both };
  });
  return limits.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/**
 * `pid`: only `host` (the host's process namespace). Sharing another container's or service's
 * namespace is not supported: it names containers bosun would have to resolve and order.
 */
export function parsePidMode(value: unknown, path: string): string {
  if (value === 'host') return value;
  if (typeof value === 'string' && /^(service|container):/.test(value)) {
    throw new TargetValidationError(path, `pid ${JSON.stringify(value)} is not supported: only "host"`);
  }
  return fail(path, '"host"', value);
}

const IPC_MODES = ['host', 'private', 'shareable', 'none'];

/** `ipc`: host, private, shareable or none; sharing another container's is not supported (see pid). */
export function parseIpcMode(value: unknown, path: string): string {
  if (typeof value === 'string' && IPC_MODES.includes(value)) return value;
  if (typeof value === 'string' && /^(service|container):/.test(value)) {
    throw new TargetValidationError(
      path,
      `ipc ${JSON.stringify(value)} is not supported: only ${IPC_MODES.join(', ')}`,
    );
  }
  return fail(path, `one of ${IPC_MODES.join(', ')}`, value);
}

/** `group_add`: group names or numeric ids, as strings. */
export function parseGroupAdd(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) return fail(path, 'an array of group names or ids', value);
  return value.map((group, i) => {
    if (typeof group === 'number' && Number.isInteger(group) && group >= 0) return String(group);
    if (typeof group === 'string' && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(group)) return group;
    return fail(join(path, i), 'a group name or numeric id', group);
  });
}
