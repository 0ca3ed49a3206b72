/**
 * The container's identity and surroundings from a composition: DNS, /etc/hosts entries, host
 * and domain name, MAC address, compose-level labels and the logging driver.
 */
import { isIP } from 'node:net';
import { checkLabels } from './container-strings.js';
import { expectNonEmptyString, fail, isPlainObject, join } from './fields.js';
import { nonEmptyStrings, stringMapOrList } from './compose-values.js';
import type { LoggingConfig, TargetWarning } from './types.js';

export function parseDnsServers(value: unknown, path: string): string[] {
  const servers = nonEmptyStrings(value, path);
  servers.forEach((server, i) => {
    if (isIP(server) === 0) fail(Array.isArray(value) ? join(path, i) : path, 'an IP address', server);
  });
  return servers;
}

/** `dns_search` and `dns_opt`: plain words (no spaces: each ends up on a resolv.conf line). */
export function parseResolverWords(value: unknown, path: string): string[] {
  const words = nonEmptyStrings(value, path);
  words.forEach((word, i) => {
    if (/\s/.test(word)) fail(Array.isArray(value) ? join(path, i) : path, 'a word without spaces', word);
  });
  return words;
}

const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parseHostName(value: unknown, path: string): string {
  const name = expectNonEmptyString(value, path);
  if (name.length > 253 || !HOST_NAME.test(name))
    fail(path, 'a host name of letters, digits, "-" and "."', value);
  return name;
}

/**
 * `extra_hosts`: `["name:ip"]` or `{ name: ip }` (compose's two forms), as Docker's `name:ip`.
 * The address may be `host-gateway`, which the engine resolves itself.
 */
export function parseExtraHosts(value: unknown, path: string): string[] {
  const entries = Array.isArray(value) ? stringMapOrList(value, path, ':') : stringMapOrList(value, path);
  return Object.entries(entries).map(([name, address]) => {
    const at = join(path, name);
    if (!HOST_NAME.test(name)) fail(at, 'a host name', name);
    if (address !== 'host-gateway' && isIP(address) === 0)
      fail(at, 'an IP address or "host-gateway"', address);
    return `${name}:${address}`;
  });
}

export function parseMacAddress(value: unknown, path: string): string {
  if (typeof value !== 'string' || !/^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$/.test(value)) {
    return fail(path, 'a MAC address such as "02:42:ac:11:00:02"', value);
  }
  return value.toLowerCase();
}

/** Compose-level `labels`: a map or a `KEY=VALUE` list, with the same checks as service labels. */
export function parseComposeLabels(value: unknown, path: string): Record<string, string> {
  return checkLabels(stringMapOrList(value, path), path);
}

/** `logging: { driver, options }`; `driver` defaults to the engine's (json-file). */
export function parseLogging(value: unknown, path: string, warnings: TargetWarning[]): LoggingConfig {
  if (!isPlainObject(value)) return fail(path, 'an object { "driver", "options" }', value);
  for (const key of Object.keys(value)) {
    if (key !== 'driver' && key !== 'options') {
      warnings.push({ path: join(path, key), message: `unsupported logging key "${key}" ignored` });
    }
  }
  const driver =
    value.driver == null ? 'json-file' : expectNonEmptyString(value.driver, join(path, 'driver'));
  if (!/^[A-Za-z0-9_.\-/:]+$/.test(driver)) fail(join(path, 'driver'), 'a logging driver name', driver);
  const options = value.options == null ? {} : stringMapOrList(value.options, join(path, 'options'));
  return { driver, options };
}
