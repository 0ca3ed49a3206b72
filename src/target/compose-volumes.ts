/**
 * Volumes: a service's `volumes` list and the release's `volumes` declarations (contract
 * section 9). Named volumes of the release and anonymous volumes are mounted; bind mounts of host
 * paths are not applied (balena's rule: host access comes through feature labels only), each one
 * reported as a warning while the rest of the service runs.
 */
import { OBJECT_NAME } from './names.js';
import {
  TargetValidationError,
  expectNonEmptyString,
  fail,
  isPlainObject,
  join,
  optionalBoolean,
} from './fields.js';
import { stringMapOrList } from './compose-values.js';
import { checkLabels } from './container-strings.js';
import type { TargetWarning, VolumeConfig, VolumeMount } from './types.js';

function checkMountTarget(target: string, path: string): string {
  if (!target.startsWith('/')) fail(path, 'an absolute container path for the volume target', target);
  return target;
}

/** A source that names a host path rather than a volume: `/x`, `./x`, `~/x`, `a/b`. */
function isHostPath(source: string): boolean {
  return /^[/.~]/.test(source) || source.includes('/');
}

function skippedBind(path: string, spec: unknown, warnings: TargetWarning[]): undefined {
  warnings.push({
    path,
    message:
      `bind mount ${JSON.stringify(spec)} not applied: host paths are not mounted into release ` +
      `containers (use a feature label such as io.balena.features.sysfs, a volume, or /data)`,
  });
  return undefined;
}

function volumeName(source: string, path: string): string {
  if (!OBJECT_NAME.test(source)) fail(path, 'a volume name of letters, digits, "_", "." and "-"', source);
  return source;
}

/**
 * Compose short form `name:/path[:ro|rw]` or `/path` (anonymous), or the long form `{ type, source,
 * target, read_only }`. Undefined for a bind mount, which is reported and skipped.
 */
function volumeMount(value: unknown, path: string, warnings: TargetWarning[]): VolumeMount | undefined {
  if (typeof value === 'string') {
    const parts = value.split(':');
    if (parts.length === 1) return { target: checkMountTarget(parts[0], path), readOnly: false };
    if (isHostPath(parts[0])) return skippedBind(path, value, warnings);
    if (parts.length > 3 || (parts.length === 3 && parts[2] !== 'ro' && parts[2] !== 'rw')) {
      fail(path, 'a volume of the form "name:/path", "name:/path:ro" or "name:/path:rw"', value);
    }
    return {
      volume: volumeName(parts[0], path),
      target: checkMountTarget(parts[1], path),
      readOnly: parts[2] === 'ro',
    };
  }
  if (isPlainObject(value)) {
    const type = value.type ?? 'volume';
    if (type === 'bind') return skippedBind(path, value, warnings);
    if (type !== 'volume') {
      throw new TargetValidationError(
        join(path, 'type'),
        `volume type ${JSON.stringify(type)} is not supported: only "volume" (use the tmpfs key for a tmpfs)`,
      );
    }
    const target = checkMountTarget(
      expectNonEmptyString(value.target, join(path, 'target')),
      join(path, 'target'),
    );
    const readOnly = optionalBoolean(value.read_only, join(path, 'read_only')) ?? false;
    if (value.source === undefined || value.source === null) return { target, readOnly };
    const source = expectNonEmptyString(value.source, join(path, 'source'));
    if (isHostPath(source)) return skippedBind(path, value, warnings);
    return { volume: volumeName(source, join(path, 'source')), target, readOnly };
  }
  return fail(path, 'a volume such as "name:/path", "/path" or { "source", "target" }', value);
}

export function parseVolumeMounts(value: unknown, path: string, warnings: TargetWarning[]): VolumeMount[] {
  if (!Array.isArray(value)) return fail(path, 'an array of volumes', value);
  const targets = new Set<string>();
  const mounts: VolumeMount[] = [];
  value.forEach((item, i) => {
    const mount = volumeMount(item, join(path, i), warnings);
    if (mount === undefined) return;
    if (targets.has(mount.target)) {
      throw new TargetValidationError(join(path, i), `two volumes are mounted at ${mount.target}`);
    }
    targets.add(mount.target);
    mounts.push(mount);
  });
  return mounts;
}

const VOLUME_KEYS = new Set(['driver', 'driver_opts', 'labels']);

/**
 * One release-level volume declaration: `driver`, `driver_opts`, `labels` (null means the
 * engine's defaults). Other keys (`external`, `name`) are reported and ignored.
 */
export function parseVolumeConfig(value: unknown, path: string, warnings: TargetWarning[]): VolumeConfig {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) return fail(path, 'an object { "driver", "driver_opts", "labels" }', value);
  const config: VolumeConfig = {};
  for (const [key, item] of Object.entries(value)) {
    const at = join(path, key);
    if (!VOLUME_KEYS.has(key)) {
      warnings.push({ path: at, message: `unsupported volume key "${key}" ignored` });
      continue;
    }
    if (item === undefined || item === null) continue;
    if (key === 'driver') {
      const driver = expectNonEmptyString(item, at);
      if (!/^[A-Za-z0-9_.\-/:]+$/.test(driver)) fail(at, 'a volume driver name such as "local"', item);
      config.driver = driver;
    } else if (key === 'driver_opts') {
      config.driverOpts = stringMapOrList(item, at);
    } else {
      config.labels = checkLabels(stringMapOrList(item, at), at);
    }
  }
  return config;
}
