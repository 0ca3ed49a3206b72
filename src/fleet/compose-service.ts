import {
  isPlainObject,
  readBoolean,
  readCommand,
  readDuration,
  readNameList,
  readString,
  readStringMap,
  type Read,
} from './compose-values.js';

export type PathSegment = string | number;

/** What one compose service becomes in a v3 release (before ids are assigned). */
export interface ComposeService {
  image: string;
  environment: Record<string, string>;
  labels: Record<string, string>;
  /** snake_case keys, as contract section 3 lists them. */
  composition: Record<string, unknown>;
}

export interface ServiceContext {
  report(path: PathSegment[], message: string): void;
  volumeNames: ReadonlySet<string>;
  serviceNames: ReadonlySet<string>;
}

const RESTART_POLICIES = ['no', 'always', 'on-failure', 'unless-stopped'];
const NETWORK_MODES = ['host', 'none'];
const HEALTHCHECK_KEYS = ['test', 'interval', 'timeout', 'start_period', 'retries', 'disable'];

type FieldReader = (value: unknown, ctx: ServiceContext, path: PathSegment[]) => Read<unknown>;

/** Composition fields: each reader validates and normalises one compose key. */
const COMPOSITION_FIELDS: Record<string, FieldReader> = {
  command: readCommand,
  entrypoint: readCommand,
  working_dir: readString,
  user: (value) => (typeof value === 'number' ? { ok: true, value: String(value) } : readString(value)),
  restart: (value) =>
    typeof value === 'string' && RESTART_POLICIES.includes(value)
      ? { ok: true, value }
      : { ok: false, message: `must be one of ${RESTART_POLICIES.join(', ')}` },
  network_mode: (value) =>
    typeof value === 'string' && NETWORK_MODES.includes(value)
      ? { ok: true, value }
      : { ok: false, message: `must be one of ${NETWORK_MODES.join(', ')}` },
  stop_signal: (value) =>
    typeof value === 'string' && /^(SIG)?[A-Z0-9+-]+$/.test(value)
      ? { ok: true, value }
      : { ok: false, message: 'must be a signal name such as SIGTERM' },
  stop_grace_period: readDuration,
  init: readBoolean,
  tty: readBoolean,
  depends_on: readDependsOn,
  volumes: readVolumes,
  healthcheck: readHealthcheck,
};

/** Validates one service; reports every problem through ctx and returns what it could read. */
export function readService(name: string, raw: unknown, ctx: ServiceContext): ComposeService | undefined {
  const base: PathSegment[] = ['services', name];
  if (!isPlainObject(raw)) {
    ctx.report(base, 'must be a map');
    return undefined;
  }
  let valid = true;
  const take = <T>(key: string, result: Read<T>): T | undefined => {
    if (result.ok) return result.value;
    // An empty message means the reader already reported finer-grained issues itself.
    if (result.message) ctx.report([...base, key], result.message);
    valid = false;
    return undefined;
  };
  let image: string | undefined;
  if (raw.image === undefined) {
    ctx.report([...base, 'image'], 'required');
    valid = false;
  } else {
    image = take('image', readString(raw.image));
  }
  const environment =
    raw.environment === undefined ? {} : take('environment', readStringMap(raw.environment));
  const labels = raw.labels === undefined ? {} : take('labels', readStringMap(raw.labels));
  const composition: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'image' || key === 'environment' || key === 'labels') continue;
    const reader = COMPOSITION_FIELDS[key];
    if (!reader) {
      ctx.report([...base, key], 'unsupported field');
      valid = false;
      continue;
    }
    const result = take(key, reader(value, ctx, [...base, key]));
    if (result !== undefined) composition[key] = result;
  }
  if (!valid || image === undefined || !environment || !labels) return undefined;
  return { image, environment, labels, composition };
}

function readDependsOn(value: unknown, ctx: ServiceContext): Read<string[]> {
  const names = readNameList(value);
  if (!names.ok) return names;
  const unknown = names.value.filter((name) => !ctx.serviceNames.has(name));
  if (unknown.length > 0) return { ok: false, message: `unknown service ${unknown.join(', ')}` };
  return names;
}

/** Named volumes only (short `name:/path[:ro]` or long form); bind mounts are refused. */
function readVolumes(value: unknown, ctx: ServiceContext, path: PathSegment[]): Read<string[]> {
  if (!Array.isArray(value)) return { ok: false, message: 'must be a list' };
  const mounts: string[] = [];
  for (const [index, item] of value.entries()) {
    const mount = readVolume(item, ctx);
    if (!mount.ok) {
      ctx.report([...path, index], mount.message);
      continue;
    }
    mounts.push(mount.value);
  }
  return mounts.length === value.length ? { ok: true, value: mounts } : { ok: false, message: '' };
}

function readVolume(item: unknown, ctx: ServiceContext): Read<string> {
  let source: unknown;
  let target: unknown;
  let readOnly = false;
  if (typeof item === 'string') {
    const parts = item.split(':');
    if (parts.length < 2 || parts.length > 3) return { ok: false, message: 'must be "volume:/path[:ro]"' };
    [source, target] = parts;
    if (parts[2] !== undefined && parts[2] !== 'ro' && parts[2] !== 'rw') {
      return { ok: false, message: `mode "${parts[2]}" must be ro or rw` };
    }
    readOnly = parts[2] === 'ro';
  } else if (isPlainObject(item)) {
    if (item.type !== undefined && item.type !== 'volume') {
      return { ok: false, message: 'only named volumes (type: volume) are supported' };
    }
    ({ source, target } = item);
    if (item.read_only !== undefined && typeof item.read_only !== 'boolean') {
      return { ok: false, message: 'read_only must be true or false' };
    }
    readOnly = item.read_only === true;
  } else {
    return { ok: false, message: 'must be "volume:/path[:ro]" or a map with source and target' };
  }
  if (typeof source !== 'string' || source === '') return { ok: false, message: 'needs a volume name' };
  if (source.startsWith('/') || source.startsWith('.') || source.startsWith('~')) {
    return { ok: false, message: `bind mount "${source}" is not supported; use a named volume` };
  }
  if (!ctx.volumeNames.has(source)) {
    return { ok: false, message: `volume "${source}" is not declared in the top-level volumes` };
  }
  if (typeof target !== 'string' || !target.startsWith('/')) {
    return { ok: false, message: 'needs an absolute container path' };
  }
  return { ok: true, value: `${source}:${target}${readOnly ? ':ro' : ''}` };
}

function readHealthcheck(value: unknown): Read<Record<string, unknown>> {
  if (!isPlainObject(value)) return { ok: false, message: 'must be a map' };
  const result: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    if (!HEALTHCHECK_KEYS.includes(key)) return { ok: false, message: `unsupported key ${key}` };
    if (key === 'test') {
      // A string test is compose's shell form.
      if (typeof raw === 'string') result.test = ['CMD-SHELL', raw];
      else if (Array.isArray(raw) && raw.length > 0 && raw.every((item) => typeof item === 'string')) {
        result.test = raw;
      } else return { ok: false, message: 'test must be a string or a non-empty list of strings' };
    } else if (key === 'retries') {
      if (!Number.isInteger(raw) || (raw as number) < 0) {
        return { ok: false, message: 'retries must be a whole number' };
      }
      result.retries = raw;
    } else if (key === 'disable') {
      if (typeof raw !== 'boolean') return { ok: false, message: 'disable must be true or false' };
      result.disable = raw;
    } else {
      const duration = readDuration(raw);
      if (!duration.ok) return { ok: false, message: `${key} ${duration.message}` };
      result[key] = duration.value;
    }
  }
  if (result.test === undefined && result.disable !== true) return { ok: false, message: 'test is required' };
  return { ok: true, value: result };
}
