/**
 * `ports` and `expose` of a composition (contract section 9), short and long syntax, as
 * PortMapping entries: one per container port, ranges expanded, so two ways of writing the same
 * ports compare (and hash) alike only when they mean the same thing.
 */
import { isIP } from 'node:net';
import { TargetValidationError, fail, isPlainObject, join } from './fields.js';
import type { PortMapping, PortProtocol, TargetWarning } from './types.js';

const PROTOCOLS: readonly PortProtocol[] = ['tcp', 'udp', 'sctp'];

/**
 * The most ports one range may expand to. Docker starts a proxy per published port: a range of
 * tens of thousands is a typo, not a plan, and would make a container slow to create.
 */
export const MAX_PORT_RANGE = 1024;

interface PortRange {
  start: number;
  end: number;
}

function portRange(text: string, path: string, what: string): PortRange {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const start = match ? Number(match[1]) : NaN;
  const end = match?.[2] !== undefined ? Number(match[2]) : start;
  const ok = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (!ok(start) || !ok(end) || end < start) {
    fail(path, `${what} as a port (1-65535) or a range such as 8000-8010`, text);
  }
  if (end - start + 1 > MAX_PORT_RANGE) {
    throw new TargetValidationError(
      path,
      `the range ${text} has ${end - start + 1} ports; a range may have at most ${MAX_PORT_RANGE}`,
    );
  }
  return { start, end };
}

function protocolOf(value: unknown, path: string): PortProtocol {
  const text = typeof value === 'string' ? value.toLowerCase() : value;
  if ((PROTOCOLS as readonly unknown[]).includes(text)) return text as PortProtocol;
  return fail(path, `a protocol, one of ${PROTOCOLS.join(', ')}`, value);
}

function hostIpOf(text: string, path: string): string {
  const ip = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIP(ip) === 0) fail(path, 'a host IP address (IPv4, or IPv6 in brackets)', text);
  return ip;
}

/** Pairs container ports with host ports: same-length ranges, or no host port at all. */
function expand(
  container: PortRange,
  host: PortRange | undefined,
  protocol: PortProtocol,
  hostIp: string | undefined,
  path: string,
  spec: unknown,
): PortMapping[] {
  const count = container.end - container.start + 1;
  if (host !== undefined && host.end - host.start + 1 !== count) {
    throw new TargetValidationError(
      path,
      `${JSON.stringify(spec)}: the host range and the container range must have the same number of ports`,
    );
  }
  return Array.from({ length: count }, (_, i) => ({
    containerPort: container.start + i,
    protocol,
    ...(host !== undefined && { hostPort: host.start + i }),
    ...(hostIp !== undefined && { hostIp }),
    published: true,
  }));
}

/** `[[host_ip:]host_port[-range]:]container_port[-range][/protocol]`, or a bare number. */
function shortPort(value: string | number, path: string): PortMapping[] {
  const text = String(value).trim();
  const slash = text.lastIndexOf('/');
  const protocol = slash < 0 ? 'tcp' : protocolOf(text.slice(slash + 1), path);
  let rest = slash < 0 ? text : text.slice(0, slash);
  let hostIp: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']:');
    if (close < 0) fail(path, 'a port such as "[::1]:8080:80"', value);
    hostIp = hostIpOf(rest.slice(0, close + 1), path);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = hostIpOf(parts.shift()!, path);
  if (parts.length > 2 || (hostIp !== undefined && parts.length !== 2)) {
    fail(path, 'a port such as "80", "8080:80", "127.0.0.1:8080:80/udp" or "8000-8002:8000-8002"', value);
  }
  const container = portRange(parts.at(-1)!, path, 'the container port');
  // "127.0.0.1::80": a host address with a port the engine picks.
  const hostText = parts.length === 2 ? parts[0] : '';
  const host = hostText === '' ? undefined : portRange(hostText, path, 'the host port');
  return expand(container, host, protocol, hostIp, path, value);
}

const LONG_KEYS = new Set(['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol']);

/** `{ target, published, host_ip, protocol, mode }`. */
function longPort(value: Record<string, unknown>, path: string, warnings: TargetWarning[]): PortMapping[] {
  for (const key of Object.keys(value)) {
    if (!LONG_KEYS.has(key)) {
      warnings.push({ path: join(path, key), message: `unsupported port key "${key}" ignored` });
    }
  }
  if (value.mode !== undefined && value.mode !== 'host' && value.mode !== 'ingress') {
    fail(join(path, 'mode'), '"host" or "ingress"', value.mode);
  }
  if (typeof value.target !== 'number' && typeof value.target !== 'string') {
    fail(join(path, 'target'), 'the container port', value.target);
  }
  const container = portRange(String(value.target), join(path, 'target'), 'the container port');
  let host: PortRange | undefined;
  if (value.published !== undefined && value.published !== null && value.published !== '') {
    if (typeof value.published !== 'number' && typeof value.published !== 'string') {
      fail(join(path, 'published'), 'the host port', value.published);
    }
    host = portRange(String(value.published), join(path, 'published'), 'the host port');
  }
  const protocol = value.protocol == null ? 'tcp' : protocolOf(value.protocol, join(path, 'protocol'));
  let hostIp: string | undefined;
  if (value.host_ip != null) {
    if (typeof value.host_ip !== 'string') fail(join(path, 'host_ip'), 'a host IP address', value.host_ip);
    hostIp = hostIpOf(value.host_ip, join(path, 'host_ip'));
  }
  return expand(container, host, protocol, hostIp, path, value);
}

/** `ports`: short strings, numbers or long-form objects. A port published twice is an error. */
export function parsePorts(value: unknown, path: string, warnings: TargetWarning[]): PortMapping[] {
  if (!Array.isArray(value)) return fail(path, 'an array of ports', value);
  const ports = value.flatMap((item, i) => {
    const at = join(path, i);
    if (typeof item === 'string' || typeof item === 'number') return shortPort(item, at);
    if (isPlainObject(item)) return longPort(item, at, warnings);
    return fail(at, 'a port such as "8080:80" or { "target", "published" }', item);
  });
  const seen = new Map<string, number>();
  ports.forEach((port) => {
    if (port.hostPort === undefined) return;
    const key = `${port.hostIp ?? '*'}:${port.hostPort}/${port.protocol}`;
    if (seen.has(key)) {
      throw new TargetValidationError(
        path,
        `host port ${port.hostPort}/${port.protocol}${port.hostIp ? ` on ${port.hostIp}` : ''} is published twice`,
      );
    }
    seen.set(key, port.containerPort);
  });
  return ports;
}

/** `expose`: container ports (or ranges) with an optional protocol, declared but not published. */
export function parseExpose(value: unknown, path: string): PortMapping[] {
  if (!Array.isArray(value)) return fail(path, 'an array of ports such as "80" or "9000/udp"', value);
  return value.flatMap((item, i) => {
    const at = join(path, i);
    if (typeof item !== 'string' && typeof item !== 'number') {
      return fail(at, 'a port such as "80" or "9000/udp"', item);
    }
    const [portText, protocolText, ...extra] = String(item).split('/');
    if (extra.length > 0) fail(at, 'a port such as "80" or "9000/udp"', item);
    const protocol = protocolText === undefined ? 'tcp' : protocolOf(protocolText, at);
    const range = portRange(portText, at, 'the container port');
    return Array.from({ length: range.end - range.start + 1 }, (_, k) => ({
      containerPort: range.start + k,
      protocol,
      published: false,
    }));
  });
}
