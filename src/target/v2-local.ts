/**
 * balena's older v2 local target state, as POST /v2/local/target-state accepts it (and as
 * `balena push <device ip>` sends it):
 *
 *   { "local": { "name", "config", "apps": { "<appId>": { "name", "commit", "releaseId",
 *       "services": { "<serviceId>": { "serviceName", "imageId", "image", "environment",
 *         "labels", "running", ...composition keys } }, "volumes", "networks" } } } }
 *
 * It is converted into a v3 device object and then validated like any other target, so both
 * shapes obey the same rules. Conversion follows balena-supervisor: the app uuid is the appId as
 * a string, the release uuid is the commit, an app without a commit has no release, and every
 * service key that is not one of the fixed fields is a composition key. Composition keys may be
 * camelCase (`networkMode`) or compose's snake_case (`network_mode`). Ids may be numeric strings
 * (`balena push` sends `"releaseId": "1"`).
 */
import {
  TargetValidationError,
  expectNonEmptyString,
  expectObject,
  isPlainObject,
  join,
  optionalObject,
  setOwn,
  type JsonObject,
} from './fields.js';
import { checkTargetLimits } from './limits.js';
import { parseDeviceObject, type ParsedTarget } from './validate.js';

/** Service fields that are not composition: the fixed v2 fields, and per-service copies of app fields. */
const SERVICE_FIELDS = new Set([
  'serviceName',
  'serviceId',
  'imageId',
  'image',
  'environment',
  'labels',
  'running',
  'contract',
  'appId',
  'appUuid',
  'releaseId',
  'commit',
]);

/** A v2 local body: `{ "local": {...} }`. A v3 device object has `apps` at its top level instead. */
export function isV2LocalShape(body: unknown): boolean {
  return isPlainObject(body) && isPlainObject(body.local) && !Object.hasOwn(body, 'apps');
}

// Keys taken from the body are set with setOwn: a plain assignment of "__proto__" would drop the
// entry before validation could see (and reject) it.

/** A whole-number string becomes a number; anything else is passed on for validation to report. */
function numeric(value: unknown): unknown {
  return typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
}

function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Composition keys to snake_case (top level, and inside healthcheck); two spellings of one key is an error. */
function snakeCaseKeys(raw: JsonObject, path: string, intoHealthcheck: boolean): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(raw)) {
    const snake = snakeCase(key);
    if (Object.hasOwn(out, snake)) {
      throw new TargetValidationError(
        join(path, key),
        `the key is given twice, as "${snake}" and as "${key}"`,
      );
    }
    setOwn(
      out,
      snake,
      intoHealthcheck && snake === 'healthcheck' && isPlainObject(value)
        ? snakeCaseKeys(value, join(path, key), false)
        : value,
    );
  }
  return out;
}

function convertService(serviceId: string, raw: unknown, path: string): [string, JsonObject] {
  const service = expectObject(raw, path, 'a service object');
  const name = expectNonEmptyString(service.serviceName, join(path, 'serviceName'));
  const composition: JsonObject = {};
  for (const [key, value] of Object.entries(service)) {
    if (!SERVICE_FIELDS.has(key)) setOwn(composition, key, value);
  }
  const converted: JsonObject = {
    id: numeric(/^\d+$/.test(serviceId) ? serviceId : service.serviceId),
    image_id: numeric(service.imageId),
    image: service.image,
    environment: service.environment,
    labels: service.labels,
    composition: snakeCaseKeys(composition, path, true),
  };
  if (service.running !== undefined) converted.running = service.running;
  return [name, converted];
}

function convertApp(appId: string, raw: unknown, path: string): JsonObject {
  if (!/^\d+$/.test(appId) || Number(appId) <= 0) {
    throw new TargetValidationError(
      path,
      `the app key must be a numeric app id, found ${JSON.stringify(appId)}`,
    );
  }
  const app = expectObject(raw, path, 'an app object');
  const releases: JsonObject = {};
  if (app.commit !== undefined && app.commit !== null && app.commit !== '') {
    const commit = expectNonEmptyString(app.commit, join(path, 'commit'));
    const servicesPath = join(path, 'services');
    const services: JsonObject = {};
    for (const [serviceId, service] of Object.entries(optionalObject(app.services, servicesPath))) {
      const [name, converted] = convertService(serviceId, service, join(servicesPath, serviceId));
      if (Object.hasOwn(services, name)) {
        throw new TargetValidationError(servicesPath, `two services are named "${name}"`);
      }
      setOwn(services, name, converted);
    }
    setOwn(releases, commit, {
      id: numeric(app.releaseId),
      services,
      volumes: app.volumes ?? {},
      networks: app.networks ?? {},
    });
  }
  return { id: Number(appId), name: app.name, class: 'fleet', releases };
}

/**
 * Converts a v2 local body into a v3 device object (not yet validated: pass it to
 * parseDeviceObject, or call parseV2LocalTarget). Errors about the v2 structure itself carry
 * `local.*` paths. The device object names no uuid, so `_deviceUuid` is accepted only so callers
 * written against the first sketch of this function (body, uuid) keep compiling.
 */
export function convertV2LocalTarget(body: unknown, _deviceUuid?: string): JsonObject {
  // Capped before conversion too: the conversion copies what it does not know into the result.
  checkTargetLimits(body);
  const root = expectObject(body, '', 'a v2 local target state { "local": { ... } }');
  const local = expectObject(root.local, 'local', 'an object { "name", "config", "apps" }');
  const appsPath = 'local.apps';
  const apps: JsonObject = {};
  for (const [appId, app] of Object.entries(optionalObject(local.apps, appsPath))) {
    apps[appId] = convertApp(appId, app, join(appsPath, appId));
  }
  const device: JsonObject = { config: local.config ?? {}, apps };
  if (local.name !== undefined) device.name = local.name;
  return device;
}

/** Converts a v2 local body and validates the result as a v3 device object for this device. */
export function parseV2LocalTarget(body: unknown, deviceUuid: string): ParsedTarget {
  return parseDeviceObject(convertV2LocalTarget(body), deviceUuid);
}
