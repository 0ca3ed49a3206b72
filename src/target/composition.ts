import type {
  Composition,
  Healthcheck,
  NetworkMode,
  RestartPolicy,
  TargetWarning,
  DependencyCondition,
} from './types.js';
import {
  TargetValidationError,
  expectNonEmptyString,
  expectStringArray,
  fail,
  isPlainObject,
  join,
  optionalBoolean,
  optionalObject,
} from './fields.js';
import {
  normaliseCapability,
  parseCapabilities,
  parseDeviceCgroupRules,
  parseDevices,
  parseGroupAdd,
  parseIpcMode,
  parsePidMode,
  parseSecurityOpt,
  parseSysctls,
  parseUlimits,
} from './compose-hardware.js';
import { parseExpose, parsePorts } from './compose-ports.js';
import {
  parseCpuQuota,
  parseCpuShares,
  parseCpuset,
  parseMemswapLimit,
  parseOomScoreAdj,
  parseTmpfs,
} from './compose-resources.js';
import {
  parseComposeLabels,
  parseDnsServers,
  parseExtraHosts,
  parseHostName,
  parseLogging,
  parseMacAddress,
  parseResolverWords,
} from './compose-runtime.js';
import { parseByteSize } from './compose-values.js';
import { parseVolumeMounts } from './compose-volumes.js';
import { DEFAULT_NETWORK, parseServiceNetworks } from './compose-networks.js';
import { OBJECT_NAME } from './names.js';

export { OBJECT_NAME } from './names.js';

const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'always', 'on-failure', 'unless-stopped'];
const DEFAULT_STOP_GRACE_PERIOD_SEC = 10;

/**
 * Splits a command line into words the way a POSIX shell would for plain words: whitespace
 * separates words; 'single quotes' keep everything literally; "double quotes" keep everything but
 * let a backslash escape `"`, `\`, `$` and `` ` ``; outside quotes a backslash escapes the next
 * character. No variable expansion, globbing or operators: `a && b` yields the words `a`, `&&`, `b`
 * (use `["sh", "-c", "..."]` for shell features). An unterminated quote is an error.
 */
export function splitShellWords(line: string, path: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0)
        throw new TargetValidationError(path, `unterminated single quote in ${JSON.stringify(line)}`);
      word += line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1])) i++;
        word += line[i];
        i++;
      }
      if (i >= line.length) {
        throw new TargetValidationError(path, `unterminated double quote in ${JSON.stringify(line)}`);
      }
      i++;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

const DURATION_UNITS_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  ns: 1e-6,
};

/**
 * A compose duration in milliseconds: `10s`, `1m30s`, `500ms`, `1.5h` (units h, m, s, ms, us,
 * ns), or a number of seconds (also as a bare numeric string). Rounded to a whole millisecond.
 */
export function parseDurationMs(value: unknown, path: string): number {
  const ms = durationMs(value, path);
  // Docker takes these in nanoseconds and bosun waits on some of them: a day is more than any
  // grace period or healthcheck needs, and far from overflowing either.
  if (ms > MAX_COMPOSE_DURATION_MS) fail(path, 'a duration of at most 24h', value);
  return ms;
}

/** The longest duration a composition may ask for (stop grace period, healthcheck timings). */
const MAX_COMPOSE_DURATION_MS = 24 * 60 * 60 * 1000;

function durationMs(value: unknown, path: string): number {
  const expected = 'a duration such as "10s", "1m30s", "500ms" or a number of seconds';
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) fail(path, expected, value);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') fail(path, expected, value);
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/^(\d+(\.\d+)?(h|ms|m|s|us|ns))+$/.test(text)) fail(path, expected, value);
  let ms = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)/g)) {
    ms += Number(match[1]) * DURATION_UNITS_MS[match[2]];
  }
  return Math.round(ms);
}

/** `command` / `entrypoint`: an array of strings, or a string split into shell words. */
function commandWords(value: unknown, path: string): string[] {
  if (typeof value === 'string') return splitShellWords(value, path);
  if (Array.isArray(value)) return expectStringArray(value, path);
  return fail(path, 'a string or an array of strings', value);
}

/**
 * `restart` defaults to `always`, as balena runs release services. `on-failure:N` (a retry count)
 * is not supported and rejects the target with the field's path.
 */
function restartPolicy(value: unknown, path: string): RestartPolicy {
  if (value === undefined || value === null) return 'always';
  if (typeof value === 'string' && (RESTART_POLICIES as readonly string[]).includes(value)) {
    return value as RestartPolicy;
  }
  return fail(path, `one of ${RESTART_POLICIES.join(', ')}`, value);
}

/**
 * Absent means the app's networks (`app`), as on balena. `host`, `none` and `service:<name>` (the
 * release checks that the name is another of its services) are the others; Docker's own
 * `bridge` and `container:<id>` are refused: bosun runs no default bridge, and a container id is
 * not the release's to name.
 */
function networkMode(value: unknown, path: string): NetworkMode {
  if (value === undefined || value === null) return 'app';
  if (value === 'host' || value === 'none') return value;
  if (typeof value === 'string' && value.startsWith('service:')) {
    const name = value.slice('service:'.length);
    if (!OBJECT_NAME.test(name)) fail(path, '"service:" followed by the name of a service', value);
    return `service:${name}`;
  }
  if (typeof value === 'string') {
    throw new TargetValidationError(
      path,
      `network_mode ${JSON.stringify(value)} is not supported: use "host", "none", ` +
        `"service:<name>", or leave it out to join the app's networks`,
    );
  }
  return fail(path, '"host", "none" or "service:<name>"', value);
}

/** An array of service names, or the compose long form `{ name: { condition } }`, as names. */
function dependsOn(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  const names = isPlainObject(value)
    ? Object.keys(value)
    : Array.isArray(value)
      ? expectStringArray(value, path)
      : fail(path, 'an array of service names or an object keyed by service name', value);
  return [...new Set(names)];
}

const DEPENDENCY_CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'];

/** The long form's conditions other than the default `service_started`, by service name. */
function dependencyConditions(value: unknown, path: string): Record<string, DependencyCondition> {
  const conditions: Record<string, DependencyCondition> = {};
  if (!isPlainObject(value)) return conditions;
  for (const [name, entry] of Object.entries(value)) {
    if (entry === null || entry === undefined) continue;
    const at = join(path, name);
    if (!isPlainObject(entry)) fail(at, 'an object such as { condition: service_healthy }', entry);
    const condition = entry.condition ?? 'service_started';
    if (typeof condition !== 'string' || !DEPENDENCY_CONDITIONS.includes(condition)) {
      fail(join(at, 'condition'), `one of ${DEPENDENCY_CONDITIONS.join(', ')}`, condition);
    }
    if (condition !== 'service_started') conditions[name] = condition as DependencyCondition;
  }
  return conditions;
}

function stopSignal(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^[A-Za-z0-9+-]+$/.test(value)) return value;
  return fail(path, 'a signal name such as "SIGTERM" or a signal number', value);
}

function healthcheck(value: unknown, path: string, warnings: TargetWarning[]): Healthcheck | undefined {
  if (value === undefined || value === null) return undefined;
  const raw = optionalObject(value, path);
  if (raw.disable === true) return { test: ['NONE'] };
  const known = new Set(['test', 'interval', 'timeout', 'start_period', 'retries', 'disable']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) {
      const at = join(path, key);
      warnings.push({ path: at, message: `unsupported healthcheck key "${key}" ignored` });
    }
  }
  const testPath = join(path, 'test');
  let test: string[];
  if (typeof raw.test === 'string') test = ['CMD-SHELL', raw.test];
  else {
    test = expectStringArray(raw.test, testPath);
    if (!['NONE', 'CMD', 'CMD-SHELL'].includes(test[0] ?? '')) {
      fail(testPath, 'a string, or an array starting with "CMD", "CMD-SHELL" or "NONE"', raw.test);
    }
  }
  const check: Healthcheck = { test };
  if (raw.interval != null) check.intervalMs = parseDurationMs(raw.interval, join(path, 'interval'));
  if (raw.timeout != null) check.timeoutMs = parseDurationMs(raw.timeout, join(path, 'timeout'));
  if (raw.start_period != null) {
    check.startPeriodMs = parseDurationMs(raw.start_period, join(path, 'start_period'));
  }
  if (raw.retries != null) {
    if (typeof raw.retries !== 'number' || !Number.isInteger(raw.retries) || raw.retries < 0) {
      fail(join(path, 'retries'), 'a whole number of retries', raw.retries);
    }
    check.retries = raw.retries;
  }
  return check;
}

type KeyParser = (value: unknown, path: string, out: Composition, warnings: TargetWarning[]) => void;

const SUPPORTED_KEYS: Record<string, KeyParser> = {
  command: (v, p, out) => (out.command = commandWords(v, p)),
  entrypoint: (v, p, out) => (out.entrypoint = commandWords(v, p)),
  working_dir: (v, p, out) => {
    const dir = expectNonEmptyString(v, p);
    if (!dir.startsWith('/')) fail(p, 'an absolute path', v);
    out.workingDir = dir;
  },
  user: (v, p, out) => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) out.user = String(v);
    else out.user = expectNonEmptyString(v, p);
  },
  restart: (v, p, out) => (out.restart = restartPolicy(v, p)),
  network_mode: (v, p, out) => (out.networkMode = networkMode(v, p)),
  networks: (v, p, out, warnings) => (out.networks = parseServiceNetworks(v, p, warnings)),
  volumes: (v, p, out, warnings) => (out.volumes = parseVolumeMounts(v, p, warnings)),
  depends_on: (v, p, out) => {
    out.dependsOn = dependsOn(v, p);
    const conditions = dependencyConditions(v, p);
    if (Object.keys(conditions).length > 0) out.dependsOnConditions = conditions;
  },
  stop_signal: (v, p, out) => (out.stopSignal = stopSignal(v, p)),
  // Docker takes whole seconds: round a sub-second grace period up rather than down to no grace.
  stop_grace_period: (v, p, out) => (out.stopGracePeriodSec = Math.ceil(parseDurationMs(v, p) / 1000)),
  init: (v, p, out) => (out.init = optionalBoolean(v, p)),
  tty: (v, p, out) => (out.tty = optionalBoolean(v, p)),
  healthcheck: (v, p, out, warnings) => (out.healthcheck = healthcheck(v, p, warnings)),
  // Ports and expose share one list: `expose` entries are the unpublished ones.
  ports: (v, p, out, warnings) => (out.ports = [...(out.ports ?? []), ...parsePorts(v, p, warnings)]),
  expose: (v, p, out) => (out.ports = [...(out.ports ?? []), ...parseExpose(v, p)]),
  privileged: (v, p, out) => (out.privileged = optionalBoolean(v, p)),
  devices: (v, p, out) => (out.devices = parseDevices(v, p)),
  device_cgroup_rules: (v, p, out) => (out.deviceCgroupRules = parseDeviceCgroupRules(v, p)),
  cap_add: (v, p, out) => (out.capAdd = parseCapabilities(v, p)),
  cap_drop: (v, p, out) => (out.capDrop = parseCapabilities(v, p)),
  security_opt: (v, p, out) => (out.securityOpt = parseSecurityOpt(v, p)),
  sysctls: (v, p, out) => (out.sysctls = parseSysctls(v, p)),
  ulimits: (v, p, out) => (out.ulimits = parseUlimits(v, p)),
  pid: (v, p, out) => (out.pid = parsePidMode(v, p)),
  ipc: (v, p, out) => (out.ipc = parseIpcMode(v, p)),
  group_add: (v, p, out) => (out.groupAdd = parseGroupAdd(v, p)),
  shm_size: (v, p, out) => (out.shmSize = parseByteSize(v, p)),
  read_only: (v, p, out) => (out.readOnly = optionalBoolean(v, p)),
  tmpfs: (v, p, out) => (out.tmpfs = parseTmpfs(v, p)),
  mem_limit: (v, p, out) => (out.memLimit = parseByteSize(v, p)),
  mem_reservation: (v, p, out) => (out.memReservation = parseByteSize(v, p)),
  memswap_limit: (v, p, out) => (out.memswapLimit = parseMemswapLimit(v, p)),
  cpu_shares: (v, p, out) => (out.cpuShares = parseCpuShares(v, p)),
  cpu_quota: (v, p, out) => (out.cpuQuota = parseCpuQuota(v, p)),
  cpuset: (v, p, out) => (out.cpuset = parseCpuset(v, p)),
  oom_kill_disable: (v, p, out) => (out.oomKillDisable = optionalBoolean(v, p)),
  oom_score_adj: (v, p, out) => (out.oomScoreAdj = parseOomScoreAdj(v, p)),
  dns: (v, p, out) => (out.dns = parseDnsServers(v, p)),
  dns_search: (v, p, out) => (out.dnsSearch = parseResolverWords(v, p)),
  dns_opt: (v, p, out) => (out.dnsOpt = parseResolverWords(v, p)),
  extra_hosts: (v, p, out) => (out.extraHosts = parseExtraHosts(v, p)),
  hostname: (v, p, out) => (out.hostname = parseHostName(v, p)),
  domainname: (v, p, out) => (out.domainname = parseHostName(v, p)),
  mac_address: (v, p, out) => (out.macAddress = parseMacAddress(v, p)),
  labels: (v, p, out) => (out.labels = parseComposeLabels(v, p)),
  logging: (v, p, out, warnings) => (out.logging = parseLogging(v, p, warnings)),
  stdin_open: (v, p, out) => (out.stdinOpen = optionalBoolean(v, p)),
};

/**
 * Validates a service's `composition` (contract section 3). Supported keys are normalised; every
 * other key is reported as a warning with its path (never silently dropped) and ignored. Wrong
 * types of supported keys throw. Cross-service checks (volumes declared, depends_on naming
 * services of the release) are the caller's, which sees the whole release.
 */
export function parseComposition(raw: unknown, path: string, warnings: TargetWarning[]): Composition {
  const input = optionalObject(raw, path);
  const out: Composition = {
    restart: 'always',
    networkMode: 'app',
    volumes: [],
    dependsOn: [],
    stopGracePeriodSec: DEFAULT_STOP_GRACE_PERIOD_SEC,
  };
  for (const [key, value] of Object.entries(input)) {
    const at = join(path, key);
    const parse = Object.hasOwn(SUPPORTED_KEYS, key) ? SUPPORTED_KEYS[key] : undefined;
    if (parse === undefined) {
      warnings.push({ path: at, message: `unsupported composition key "${key}" ignored` });
      continue;
    }
    if (value === null || value === undefined) continue;
    parse(value, at, out, warnings);
  }
  checkMemoryLimits(out, path);
  settleNetworks(out, input, path);
  checkHostNetworkConflicts(out, path);
  checkSharedStackConflicts(out, path);
  // Drop optional fields a parser set to undefined, so equal compositions compare (and hash) equal.
  for (const key of Object.keys(out) as Array<keyof Composition>) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}

/** Docker refuses a memory limit below 6 MiB. */
const MIN_MEMORY_LIMIT = 6 * 1024 * 1024;

/**
 * Limits the engine would refuse at create, service by service: caught here with the path, so the
 * whole target is rejected before anything changes. A reservation above the limit can never be
 * met, and swap (memory plus swap) below memory means less than nothing.
 */
function checkMemoryLimits(c: Composition, path: string): void {
  if (c.memLimit !== undefined && c.memLimit !== 0 && c.memLimit < MIN_MEMORY_LIMIT) {
    throw new TargetValidationError(
      join(path, 'mem_limit'),
      `mem_limit ${c.memLimit} bytes is below the engine's minimum of 6m`,
    );
  }
  if (c.memLimit !== undefined && c.memReservation !== undefined && c.memReservation > c.memLimit) {
    throw new TargetValidationError(
      join(path, 'mem_reservation'),
      `the reservation (${c.memReservation} bytes) is above mem_limit (${c.memLimit} bytes)`,
    );
  }
  if (c.memswapLimit !== undefined && c.memswapLimit !== -1) {
    if (c.memLimit === undefined) {
      throw new TargetValidationError(join(path, 'memswap_limit'), 'memswap_limit needs mem_limit as well');
    }
    if (c.memswapLimit < c.memLimit) {
      throw new TargetValidationError(
        join(path, 'memswap_limit'),
        `memswap_limit (${c.memswapLimit} bytes) is memory plus swap: it cannot be below mem_limit (${c.memLimit} bytes)`,
      );
    }
  }
}

/**
 * Keys the engine refuses beside host networking: it will not give the host's
 * interfaces another MAC address (refused at create), and network sysctls would change the host's
 * own network stack (refused at start, after the old release is gone).
 */
function checkHostNetworkConflicts(c: Composition, path: string): void {
  if (c.networkMode !== 'host') return;
  if (c.macAddress !== undefined) {
    throw new TargetValidationError(
      join(path, 'mac_address'),
      "mac_address cannot be set with network_mode host: the container uses the host's interfaces",
    );
  }
  const netSysctl = Object.keys(c.sysctls ?? {}).find((name) => name.startsWith('net.'));
  if (netSysctl !== undefined) {
    throw new TargetValidationError(
      join(join(path, 'sysctls'), netSysctl),
      `network sysctl ${netSysctl} cannot be set with network_mode host: it would change the host's own network settings`,
    );
  }
}

/**
 * `networks` goes with the app's networks only (compose refuses it beside `network_mode`); a
 * service that names none joins the app's `default` network.
 */
function settleNetworks(c: Composition, input: Record<string, unknown>, path: string): void {
  if (c.networkMode !== 'app') {
    if (c.networks !== undefined) {
      throw new TargetValidationError(
        join(path, 'networks'),
        `networks cannot be set with network_mode ${JSON.stringify(input.network_mode)}: leave network_mode out to join networks`,
      );
    }
    return;
  }
  if (c.networks === undefined || c.networks.length === 0) c.networks = [{ name: DEFAULT_NETWORK }];
}

/**
 * Keys the engine refuses beside another container's network stack (`service:<name>`): the
 * stack, with its name, resolver and ports, is that container's.
 */
function checkSharedStackConflicts(c: Composition, path: string): void {
  if (!c.networkMode.startsWith('service:')) return;
  const conflicts: Array<[string, boolean]> = [
    ['ports', (c.ports ?? []).length > 0],
    ['hostname', c.hostname !== undefined],
    ['mac_address', c.macAddress !== undefined],
    ['dns', c.dns !== undefined],
    ['extra_hosts', c.extraHosts !== undefined],
  ];
  const found = conflicts.find(([, set]) => set);
  if (found === undefined) return;
  throw new TargetValidationError(
    join(path, found[0]),
    `${found[0]} cannot be set with network_mode ${c.networkMode}: the service uses that service's network stack`,
  );
}

/**
 * Whether the composition gets the NET_RAW capability it would otherwise lose on the host network
 * (reconcile/container-spec.ts): it asks for it, for every capability, or is privileged.
 */
export function asksForNetRaw(c: Pick<Composition, 'capAdd' | 'privileged'>): boolean {
  if (c.privileged) return true;
  const asked = (c.capAdd ?? []).map(normaliseCapability);
  return asked.includes('NET_RAW') || asked.includes('ALL');
}
