import type {
  Composition,
  Healthcheck,
  NetworkMode,
  RestartPolicy,
  TargetWarning,
  VolumeMount,
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

/** Names of volumes and services: they become Docker object names and host directory names. */
export const OBJECT_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

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
 * Absent means `host`: bosun creates no bridge network, and host networking lets apps reach the
 * local API at 127.0.0.1 the way they reach balena-supervisor's.
 */
function networkMode(value: unknown, path: string): NetworkMode {
  if (value === undefined || value === null) return 'host';
  if (value === 'host' || value === 'none') return value;
  if (typeof value === 'string') {
    throw new TargetValidationError(
      path,
      `network_mode ${JSON.stringify(value)} is not supported: bosun runs containers with ` +
        `network_mode "host" (the default) or "none" only, it creates no bridge or shared networks`,
    );
  }
  return fail(path, '"host" or "none"', value);
}

function checkMountTarget(target: string, path: string): string {
  if (!target.startsWith('/')) fail(path, 'an absolute container path for the volume target', target);
  return target;
}

function checkVolumeSource(source: string, path: string, spec: unknown): string {
  if (/^[/.~]/.test(source) || source.includes('/')) {
    throw new TargetValidationError(
      path,
      `bind mount ${JSON.stringify(spec)} is not supported: only named volumes declared in the ` +
        `release's "volumes" can be mounted (each app also gets a persistent /data)`,
    );
  }
  if (!OBJECT_NAME.test(source)) fail(path, 'a volume name of letters, digits, "_", "." and "-"', source);
  return source;
}

/** Compose short form `name:/path[:ro|rw]`, or long form `{ type: volume, source, target, read_only }`. */
function volumeMount(value: unknown, path: string): VolumeMount {
  if (typeof value === 'string') {
    const parts = value.split(':');
    if (parts.length < 2) {
      throw new TargetValidationError(
        path,
        `anonymous volume ${JSON.stringify(value)} is not supported: use "<volume name>:${value}" ` +
          `with a volume declared in the release's "volumes"`,
      );
    }
    const volume = checkVolumeSource(parts[0], path, value);
    if (parts.length > 3 || (parts.length === 3 && parts[2] !== 'ro' && parts[2] !== 'rw')) {
      fail(path, 'a volume of the form "name:/path", "name:/path:ro" or "name:/path:rw"', value);
    }
    return { volume, target: checkMountTarget(parts[1], path), readOnly: parts[2] === 'ro' };
  }
  if (isPlainObject(value)) {
    const type = value.type ?? 'volume';
    if (type !== 'volume') {
      throw new TargetValidationError(
        join(path, 'type'),
        `volume type ${JSON.stringify(type)} is not supported: only named volumes declared in the release`,
      );
    }
    const volume = checkVolumeSource(
      expectNonEmptyString(value.source, join(path, 'source')),
      path,
      value.source,
    );
    const target = checkMountTarget(
      expectNonEmptyString(value.target, join(path, 'target')),
      join(path, 'target'),
    );
    return { volume, target, readOnly: optionalBoolean(value.read_only, join(path, 'read_only')) ?? false };
  }
  return fail(path, 'a volume such as "name:/path" or { "source", "target" }', value);
}

function volumeMounts(value: unknown, path: string): VolumeMount[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(path, 'an array of volumes', value);
  const mounts = value.map((item, i) => volumeMount(item, join(path, i)));
  const targets = new Set<string>();
  mounts.forEach((mount, i) => {
    if (targets.has(mount.target)) {
      throw new TargetValidationError(join(path, i), `two volumes are mounted at ${mount.target}`);
    }
    targets.add(mount.target);
  });
  return mounts;
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
  volumes: (v, p, out) => (out.volumes = volumeMounts(v, p)),
  depends_on: (v, p, out) => (out.dependsOn = dependsOn(v, p)),
  stop_signal: (v, p, out) => (out.stopSignal = stopSignal(v, p)),
  // Docker takes whole seconds: round a sub-second grace period up rather than down to no grace.
  stop_grace_period: (v, p, out) => (out.stopGracePeriodSec = Math.ceil(parseDurationMs(v, p) / 1000)),
  init: (v, p, out) => (out.init = optionalBoolean(v, p)),
  tty: (v, p, out) => (out.tty = optionalBoolean(v, p)),
  healthcheck: (v, p, out, warnings) => (out.healthcheck = healthcheck(v, p, warnings)),
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
    networkMode: 'host',
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
  // Drop optional fields a parser set to undefined, so equal compositions compare (and hash) equal.
  for (const key of Object.keys(out) as Array<keyof Composition>) {
    if (out[key] === undefined) delete out[key];
  }
  return out;
}
