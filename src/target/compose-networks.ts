/**
 * Networks of a release (contract section 9): the release-level `networks` declarations, a
 * service's `networks` (list, or map with `aliases` and `ipv4_address`), and the checks that tie
 * them together (a service names only declared networks; a fixed address lies in its network's
 * configured subnet).
 */
import { isIP } from 'node:net';
import { checkLabels } from './container-strings.js';
import { parseHostName } from './compose-runtime.js';
import { stringMapOrList } from './compose-values.js';
import {
  TargetValidationError,
  expectNonEmptyString,
  expectStringArray,
  fail,
  isPlainObject,
  join,
  optionalBoolean,
} from './fields.js';
import { OBJECT_NAME } from './names.js';
import type { Composition, IpamPool, NetworkConfig, ServiceNetwork, TargetWarning } from './types.js';

/** The network a service joins when it names none, created for every app that has such a service. */
export const DEFAULT_NETWORK = 'default';

const NETWORK_KEYS = new Set(['driver', 'driver_opts', 'ipam', 'internal', 'enable_ipv6', 'labels']);
const IPAM_KEYS = new Set(['driver', 'config']);
const POOL_KEYS = new Set(['subnet', 'gateway', 'ip_range']);

function warnUnknown(
  value: Record<string, unknown>,
  known: Set<string>,
  path: string,
  what: string,
  warnings: TargetWarning[],
): void {
  for (const key of Object.keys(value)) {
    if (!known.has(key))
      warnings.push({ path: join(path, key), message: `unsupported ${what} key "${key}" ignored` });
  }
}

/** An IPv4 address as a 32-bit number. */
function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

interface Cidr {
  text: string;
  family: 4 | 6;
  base: string;
  bits: number;
}

function parseCidr(value: unknown, path: string): Cidr {
  const expected = 'a subnet in CIDR notation such as "172.28.0.0/16"';
  if (typeof value !== 'string') return fail(path, expected, value);
  const [base, bitsText, ...extra] = value.trim().split('/');
  const family = isIP(base ?? '');
  const bits = /^\d+$/.test(bitsText ?? '') ? Number(bitsText) : NaN;
  if (extra.length > 0 || family === 0 || !(bits >= 0 && bits <= (family === 4 ? 32 : 128))) {
    return fail(path, expected, value);
  }
  return { text: value.trim(), family: family as 4 | 6, base: base!, bits };
}

/** Whether an IPv4 address (or the start of an IPv4 range) lies in an IPv4 subnet. */
function inSubnet(ip: string, subnet: Cidr): boolean {
  if (subnet.family !== 4 || isIP(ip) !== 4) return true; // IPv6 is left to the engine
  if (subnet.bits === 0) return true;
  const mask = subnet.bits === 32 ? 0xffffffff : ~((1 << (32 - subnet.bits)) - 1) >>> 0;
  return (ipv4Number(ip) & mask) >>> 0 === (ipv4Number(subnet.base) & mask) >>> 0;
}

function parsePool(value: unknown, path: string, warnings: TargetWarning[]): IpamPool {
  if (!isPlainObject(value)) return fail(path, 'an object { "subnet", "gateway", "ip_range" }', value);
  warnUnknown(value, POOL_KEYS, path, 'ipam config', warnings);
  const pool: IpamPool = {};
  const subnet = value.subnet == null ? undefined : parseCidr(value.subnet, join(path, 'subnet'));
  if (subnet) pool.subnet = subnet.text;
  if (value.gateway != null) {
    const at = join(path, 'gateway');
    if (typeof value.gateway !== 'string' || isIP(value.gateway) === 0) {
      fail(at, 'an IP address such as "172.28.0.1"', value.gateway);
    }
    if (subnet === undefined) throw new TargetValidationError(at, 'a gateway needs a subnet beside it');
    if (isIP(value.gateway) !== subnet.family || !inSubnet(value.gateway, subnet)) {
      throw new TargetValidationError(at, `gateway ${value.gateway} is not in subnet ${subnet.text}`);
    }
    pool.gateway = value.gateway;
  }
  if (value.ip_range != null) {
    const at = join(path, 'ip_range');
    const range = parseCidr(value.ip_range, at);
    if (subnet === undefined) throw new TargetValidationError(at, 'an ip_range needs a subnet beside it');
    if (range.family !== subnet.family || range.bits < subnet.bits || !inSubnet(range.base, subnet)) {
      throw new TargetValidationError(at, `ip_range ${range.text} is not within subnet ${subnet.text}`);
    }
    pool.ipRange = range.text;
  }
  return pool;
}

function parseIpam(value: unknown, path: string, warnings: TargetWarning[]): NetworkConfig['ipam'] {
  if (!isPlainObject(value)) return fail(path, 'an object { "driver", "config" }', value);
  warnUnknown(value, IPAM_KEYS, path, 'ipam', warnings);
  const ipam: NonNullable<NetworkConfig['ipam']> = { config: [] };
  if (value.driver != null) {
    const driver = expectNonEmptyString(value.driver, join(path, 'driver'));
    if (!/^[A-Za-z0-9_.\-/:]+$/.test(driver))
      fail(join(path, 'driver'), 'an IPAM driver name such as "default"', driver);
    ipam.driver = driver;
  }
  if (value.config != null) {
    const at = join(path, 'config');
    if (!Array.isArray(value.config))
      return fail(at, 'an array of { "subnet", "gateway", "ip_range" }', value.config);
    ipam.config = value.config.map((pool, i) => parsePool(pool, join(at, i), warnings));
  }
  return ipam;
}

/**
 * One release-level network declaration: `driver` (bridge only), `driver_opts`, `ipam`,
 * `internal`, `enable_ipv6`, `labels` (null means a bridge with the engine's defaults). Other
 * keys (`external`, `name`, `attachable`) are reported and ignored.
 */
export function parseNetworkConfig(value: unknown, path: string, warnings: TargetWarning[]): NetworkConfig {
  const config: NetworkConfig = { driver: 'bridge' };
  if (value === undefined || value === null) return config;
  if (!isPlainObject(value)) {
    return fail(
      path,
      'an object { "driver", "driver_opts", "ipam", "internal", "enable_ipv6", "labels" }',
      value,
    );
  }
  warnUnknown(value, NETWORK_KEYS, path, 'network', warnings);
  if (value.driver != null && value.driver !== 'bridge') {
    throw new TargetValidationError(
      join(path, 'driver'),
      `network driver ${JSON.stringify(value.driver)} is not supported: app networks are bridges (driver "bridge")`,
    );
  }
  if (value.driver_opts != null)
    config.driverOpts = stringMapOrList(value.driver_opts, join(path, 'driver_opts'));
  if (value.ipam != null) config.ipam = parseIpam(value.ipam, join(path, 'ipam'), warnings);
  const internal = optionalBoolean(value.internal, join(path, 'internal'));
  if (internal !== undefined) config.internal = internal;
  const ipv6 = optionalBoolean(value.enable_ipv6, join(path, 'enable_ipv6'));
  if (ipv6 !== undefined) config.enableIpv6 = ipv6;
  if (value.labels != null)
    config.labels = checkLabels(stringMapOrList(value.labels, join(path, 'labels')), join(path, 'labels'));
  return config;
}

function networkName(name: string, path: string): string {
  if (!OBJECT_NAME.test(name)) fail(path, 'a network name of letters, digits, "_", "." and "-"', name);
  return name;
}

const SERVICE_NETWORK_KEYS = new Set(['aliases', 'ipv4_address']);

/**
 * A service's `networks`: a list of names, or a map of names to `null` or `{ aliases,
 * ipv4_address }`, in the order written (the first is the one the container is created on).
 */
export function parseServiceNetworks(
  value: unknown,
  path: string,
  warnings: TargetWarning[],
): ServiceNetwork[] {
  if (Array.isArray(value)) {
    const names = expectStringArray(value, path).map((name, i) => networkName(name, join(path, i)));
    return [...new Set(names)].map((name) => ({ name }));
  }
  if (!isPlainObject(value))
    return fail(path, 'an array of network names, or an object keyed by network name', value);
  return Object.entries(value).map(([name, options]) => {
    const at = join(path, name);
    const network: ServiceNetwork = { name: networkName(name, at) };
    if (options === null || options === undefined) return network;
    if (!isPlainObject(options)) return fail(at, 'null or an object { "aliases", "ipv4_address" }', options);
    warnUnknown(options, SERVICE_NETWORK_KEYS, at, 'service network', warnings);
    if (options.aliases != null) {
      const aliasesPath = join(at, 'aliases');
      const aliases = expectStringArray(options.aliases, aliasesPath).map((alias, i) =>
        parseHostName(alias, join(aliasesPath, i)),
      );
      if (aliases.length > 0) network.aliases = [...new Set(aliases)];
    }
    if (options.ipv4_address != null) {
      const ipAt = join(at, 'ipv4_address');
      if (typeof options.ipv4_address !== 'string' || isIP(options.ipv4_address) !== 4) {
        fail(ipAt, 'an IPv4 address such as "172.28.0.10"', options.ipv4_address);
      }
      network.ipv4Address = options.ipv4_address;
    }
    return network;
  });
}

/**
 * A service names only networks its release declares (or `default`), and a fixed IPv4 address
 * only on a network with a configured subnet that holds it: the engine would refuse either at
 * create, after the old release was gone.
 */
export function checkServiceNetworks(
  networks: ServiceNetwork[],
  declared: Record<string, NetworkConfig>,
  path: string,
): void {
  for (const network of networks) {
    const at = join(path, network.name);
    if (network.name !== DEFAULT_NETWORK && !Object.hasOwn(declared, network.name)) {
      const names = Object.keys(declared).join(', ') || 'none';
      throw new TargetValidationError(
        at,
        `network "${network.name}" is not declared in the release's networks (declared: ${names})`,
      );
    }
    if (network.ipv4Address === undefined) continue;
    const subnets = (declared[network.name]?.ipam?.config ?? [])
      .map((pool) => pool.subnet)
      .filter((s): s is string => s !== undefined)
      .map((s) => parseCidr(s, at));
    if (!subnets.some((subnet) => subnet.family === 4 && inSubnet(network.ipv4Address!, subnet))) {
      throw new TargetValidationError(
        join(at, 'ipv4_address'),
        subnets.length === 0
          ? `a fixed address needs a subnet in network "${network.name}"'s ipam config`
          : `${network.ipv4Address} is not in a subnet of network "${network.name}" (${subnets.map((s) => s.text).join(', ')})`,
      );
    }
  }
}

/** The service whose network stack `network_mode: service:<name>` shares, if any. */
export function networkPeer(c: Pick<Composition, 'networkMode'>): string | undefined {
  return c.networkMode.startsWith('service:') ? c.networkMode.slice('service:'.length) : undefined;
}

/** The services a service starts after: its depends_on, and the one whose network stack it shares. */
export function startsAfter(c: Pick<Composition, 'networkMode' | 'dependsOn'>): string[] {
  const peer = networkPeer(c);
  return peer === undefined || c.dependsOn.includes(peer) ? c.dependsOn : [...c.dependsOn, peer];
}
