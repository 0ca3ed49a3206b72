import { checkPolicyConfig, checkPolicyLabels } from '../policy/update-policy.js';
import { parseBoolean } from '../config/schema.js';
import { OBJECT_NAME, parseComposition } from './composition.js';
import { parseVolumeConfig } from './compose-volumes.js';
import {
  DEFAULT_NETWORK,
  checkServiceNetworks,
  networkPeer,
  parseNetworkConfig,
  startsAfter,
} from './compose-networks.js';
import { enabledFeatures } from './features.js';
import { checkEnvironment, checkLabels } from './container-strings.js';
import {
  TargetValidationError,
  expectNonEmptyString,
  expectObject,
  expectPositiveInt,
  fail,
  isPlainObject,
  join,
  optionalBoolean,
  optionalObject,
  optionalString,
  stringMap,
} from './fields.js';
import { checkTargetLimits } from './limits.js';
import type {
  TargetApp,
  TargetRelease,
  TargetService,
  TargetState,
  TargetWarning,
  UpdateStrategy,
} from './types.js';

export { TargetValidationError } from './fields.js';

export interface ParsedTarget {
  target: TargetState;
  warnings: TargetWarning[];
}

export interface ParsedRelease {
  release: TargetRelease;
  warnings: TargetWarning[];
}

const UUID_LIKE = /^[A-Za-z0-9_-]+$/;
const STRATEGIES: readonly UpdateStrategy[] = [
  'download-then-kill',
  'kill-then-download',
  'delete-then-download',
  'hand-over',
];
const DEFAULT_STRATEGY: UpdateStrategy = 'download-then-kill';
const DEFAULT_HANDOVER_TIMEOUT_MS = 60_000;

/**
 * Validates the cloud's v3 document `{ "<device uuid>": { device object } }` (contract section 3)
 * for this device. The whole document is rejected on the first error: what runs stays as it is.
 */
export function parseTargetDocument(body: unknown, deviceUuid: string): ParsedTarget {
  checkTargetLimits(body);
  const doc = expectObject(body, '', 'a target state document { "<device uuid>": { ... } }');
  if (Object.hasOwn(doc, deviceUuid)) return parseCheckedDevice(doc[deviceUuid], deviceUuid, '');
  const uuids = Object.keys(doc);
  if (uuids.length === 0) {
    throw new TargetValidationError(
      '',
      `the target state document is empty; expected { "${deviceUuid}": {...} }`,
    );
  }
  const shown = uuids.slice(0, 3).join(', ') + (uuids.length > 3 ? ', ...' : '');
  throw new TargetValidationError(
    '',
    `the target state document is for device ${shown}, not for this device ${deviceUuid}`,
  );
}

/**
 * Validates a bare v3 device object (the value for one uuid in the cloud document): the shape of
 * BOSUN_TARGET_STATE_FILE and of POST /v2/local/target-state. `path` prefixes error paths.
 */
export function parseDeviceObject(device: unknown, deviceUuid: string, path = ''): ParsedTarget {
  checkTargetLimits(device, path);
  return parseCheckedDevice(device, deviceUuid, path);
}

/**
 * Validates one release object (the value for a commit under an app's `releases`) exactly as a
 * device validates it inside a target: the fleet runs this on every release it is asked to
 * store, so a push the devices would reject is refused at push with their own message. Paths are
 * relative to the release unless `path` prefixes them.
 */
export function parseReleaseObject(commit: string, release: unknown, path = ''): ParsedRelease {
  checkTargetLimits(release, path);
  const warnings: TargetWarning[] = [];
  return { release: parseRelease(commit, release, path, warnings), warnings };
}

/** A device object already within the limits of target/limits.ts. */
function parseCheckedDevice(device: unknown, deviceUuid: string, path: string): ParsedTarget {
  const warnings: TargetWarning[] = [];
  const raw = expectObject(device, path, 'a device object { "name", "config", "apps" }');
  const target: TargetState = {
    uuid: deviceUuid,
    // Config values are strings on the wire; numbers and booleans are stringified, objects rejected.
    config: stringMap(raw.config, join(path, 'config')),
    apps: {},
  };
  const name = optionalString(raw.name, join(path, 'name'));
  if (name !== undefined) target.name = name;

  const appsPath = join(path, 'apps');
  const apps = expectObject(raw.apps, appsPath, 'an object of apps keyed by app uuid');
  for (const [appUuid, app] of Object.entries(apps)) {
    const appPath = join(appsPath, appUuid);
    // balena's v3 documents carry the host OS as an app; bosun does not manage the host OS.
    if (isPlainObject(app) && app.is_host === true) {
      warnings.push({ path: appPath, message: 'host OS app ignored: bosun does not update the host OS' });
      continue;
    }
    target.apps[appUuid] = parseApp(appUuid, app, appPath, warnings);
  }
  checkAppIdsUnique(target.apps, appsPath);
  checkPolicyConfig(target.config, join(path, 'config'));
  return { target, warnings };
}

/**
 * The numeric app id names an app's /data dir, its lock dirs and its API key: two apps with one
 * id would share them, so such a target is rejected.
 */
function checkAppIdsUnique(apps: Record<string, TargetApp>, appsPath: string): void {
  const byId = new Map<number, string>();
  for (const app of Object.values(apps)) {
    const first = byId.get(app.appId);
    if (first !== undefined) {
      throw new TargetValidationError(
        join(join(appsPath, app.appUuid), 'id'),
        `apps ${first} and ${app.appUuid} both have id ${app.appId}; each app needs an id of its ` +
          `own (the id names its /data, lock dirs and API key)`,
      );
    }
    byId.set(app.appId, app.appUuid);
  }
}

function checkUuid(uuid: string, path: string, what: string): void {
  if (uuid === '__proto__') throw new TargetValidationError(path, `${what} cannot be "__proto__"`);
  if (!UUID_LIKE.test(uuid)) {
    throw new TargetValidationError(
      path,
      `${what} must be letters, digits, "_" or "-", found ${JSON.stringify(uuid)}`,
    );
  }
}

function parseApp(appUuid: string, value: unknown, path: string, warnings: TargetWarning[]): TargetApp {
  checkUuid(appUuid, path, 'the app uuid');
  const raw = expectObject(value, path, 'an app object');
  const app: TargetApp = {
    appUuid,
    appId: expectPositiveInt(raw.id, join(path, 'id')),
    name: optionalString(raw.name, join(path, 'name')) ?? '',
    class: optionalString(raw.class, join(path, 'class')) ?? 'fleet',
  };
  const releasesPath = join(path, 'releases');
  const releases = optionalObject(raw.releases, releasesPath);
  const commits = Object.keys(releases);
  if (commits.length > 1) {
    const label = app.name === '' ? appUuid : `"${app.name}" (${appUuid})`;
    throw new TargetValidationError(
      releasesPath,
      `app ${label} has ${commits.length} releases (${commits.join(', ')}); an app may have at most one`,
    );
  }
  if (commits.length === 1) {
    const commit = commits[0];
    app.release = parseRelease(commit, releases[commit], join(releasesPath, commit), warnings);
  }
  return app;
}

function parseRelease(uuid: string, value: unknown, path: string, warnings: TargetWarning[]): TargetRelease {
  checkUuid(uuid, path, 'the release uuid (commit)');
  const raw = expectObject(value, path, 'a release object');
  const release: TargetRelease = {
    uuid,
    id: expectPositiveInt(raw.id, join(path, 'id')),
    services: {},
    volumes: volumeConfigs(raw.volumes, join(path, 'volumes'), warnings),
    networks: networkConfigs(raw.networks, join(path, 'networks'), warnings),
  };
  const servicesPath = join(path, 'services');
  const services = optionalObject(raw.services, servicesPath);
  for (const [name, service] of Object.entries(services)) {
    release.services[name] = parseService(name, service, join(servicesPath, name), warnings);
  }
  checkReferences(release, servicesPath);
  addDefaultNetwork(release);
  checkPolicyLabels(release.services, servicesPath);
  return release;
}

/** `volumes` of a release: names to their driver, driver options and labels. */
function volumeConfigs(value: unknown, path: string, warnings: TargetWarning[]): TargetRelease['volumes'] {
  const out: TargetRelease['volumes'] = {};
  for (const [name, options] of Object.entries(optionalObject(value, path))) {
    const at = join(path, name);
    if (!OBJECT_NAME.test(name)) fail(at, 'a name of letters, digits, "_", "." and "-"', name);
    out[name] = parseVolumeConfig(options, at, warnings);
  }
  return out;
}

/** `networks` of a release: names to their bridge configuration. */
function networkConfigs(value: unknown, path: string, warnings: TargetWarning[]): TargetRelease['networks'] {
  const out: TargetRelease['networks'] = {};
  for (const [name, options] of Object.entries(optionalObject(value, path))) {
    const at = join(path, name);
    if (!OBJECT_NAME.test(name)) fail(at, 'a name of letters, digits, "_", "." and "-"', name);
    out[name] = parseNetworkConfig(options, at, warnings);
  }
  return out;
}

/** A service that joins `default` without the release declaring it gets a bridge with the defaults. */
function addDefaultNetwork(release: TargetRelease): void {
  const joined = Object.values(release.services).some((s) =>
    (s.composition.networks ?? []).some((n) => n.name === DEFAULT_NETWORK),
  );
  if (joined && !Object.hasOwn(release.networks, DEFAULT_NETWORK)) {
    release.networks[DEFAULT_NETWORK] = { driver: 'bridge' };
  }
}

/** Volumes must be declared by the release, and depends_on must name other services of it. */
function checkReferences(release: TargetRelease, servicesPath: string): void {
  for (const [name, service] of Object.entries(release.services)) {
    const compositionPath = join(join(servicesPath, name), 'composition');
    service.composition.volumes.forEach((mount, i) => {
      // An anonymous volume (no name) needs no declaration: it lives and dies with its container.
      if (mount.volume !== undefined && !Object.hasOwn(release.volumes, mount.volume)) {
        const declared = Object.keys(release.volumes).join(', ') || 'none';
        throw new TargetValidationError(
          join(join(compositionPath, 'volumes'), i),
          `volume "${mount.volume}" is not declared in the release's volumes (declared: ${declared})`,
        );
      }
    });
    checkServiceNetworks(
      service.composition.networks ?? [],
      release.networks,
      join(compositionPath, 'networks'),
    );
    const peer = networkPeer(service.composition);
    if (peer !== undefined) {
      const at = join(compositionPath, 'network_mode');
      if (peer === name)
        throw new TargetValidationError(at, `service "${name}" cannot share its own network stack`);
      if (!Object.hasOwn(release.services, peer)) {
        throw new TargetValidationError(at, `"${peer}" is not a service of this release`);
      }
    }
    for (const dependency of service.composition.dependsOn) {
      const at = join(compositionPath, 'depends_on');
      if (dependency === name) throw new TargetValidationError(at, `service "${name}" depends on itself`);
      if (!Object.hasOwn(release.services, dependency)) {
        throw new TargetValidationError(at, `"${dependency}" is not a service of this release`);
      }
    }
  }
  checkNoDependencyCycle(release, servicesPath);
}

/** A cycle in depends_on (or network_mode service:) could never start: reject it rather than wait forever. */
function checkNoDependencyCycle(release: TargetRelease, servicesPath: string): void {
  const done = new Set<string>();
  const visit = (name: string, trail: string[]): void => {
    if (done.has(name)) return;
    if (trail.includes(name)) {
      const cycle = [...trail.slice(trail.indexOf(name)), name].join(' -> ');
      throw new TargetValidationError(servicesPath, `depends_on has a cycle: ${cycle}`);
    }
    for (const dependency of startsAfter(release.services[name].composition)) {
      visit(dependency, [...trail, name]);
    }
    done.add(name);
  };
  for (const name of Object.keys(release.services)) visit(name, []);
}

function parseService(name: string, value: unknown, path: string, warnings: TargetWarning[]): TargetService {
  if (!OBJECT_NAME.test(name)) {
    throw new TargetValidationError(
      path,
      `service name ${JSON.stringify(name)} is invalid: it must start with a letter or digit and ` +
        `contain only letters, digits, "_", "." and "-"`,
    );
  }
  const raw = expectObject(value, path, 'a service object');
  const environment = checkEnvironment(
    stringMap(raw.environment, join(path, 'environment')),
    join(path, 'environment'),
  );
  const labels = checkLabels(stringMap(raw.labels, join(path, 'labels')), join(path, 'labels'));
  const composition = parseComposition(raw.composition, join(path, 'composition'), warnings);
  return {
    serviceName: name,
    serviceId: expectPositiveInt(raw.id, join(path, 'id')),
    imageId: expectPositiveInt(raw.image_id, join(path, 'image_id')),
    image: normaliseImage(raw.image, join(path, 'image')),
    environment,
    labels,
    running: optionalBoolean(raw.running, join(path, 'running')) ?? true,
    composition,
    strategy: strategyOf(labels, join(path, 'labels'), warnings),
    handoverTimeoutMs: handoverTimeoutOf(labels, join(path, 'labels'), warnings),
    overrideLock: ['RESIN_OVERRIDE_LOCK', 'BALENA_OVERRIDE_LOCK'].some(
      (key) => parseBoolean(environment[key]) === true,
    ),
    supervisorApi: enabledFeatures({ ...composition.labels, ...labels }).includes('supervisor-api'),
  };
}

/**
 * A label under `io.balena.<suffix>`, or its legacy twin `io.resin.<suffix>` which
 * balena-supervisor also honours; the balena one wins when both are set.
 */
function label(labels: Record<string, string>, suffix: string): { key: string; value: string } | undefined {
  for (const key of [`io.balena.${suffix}`, `io.resin.${suffix}`]) {
    if (Object.hasOwn(labels, key)) return { key, value: labels[key] };
  }
  return undefined;
}

/**
 * The update strategy is per service (`io.balena.update.strategy` or its `io.resin.*` twin). An
 * unknown one falls back to download-then-kill with a warning rather than rejecting the target:
 * the safest strategy keeps the old release running until every new image is there.
 */
function strategyOf(labels: Record<string, string>, path: string, warnings: TargetWarning[]): UpdateStrategy {
  const found = label(labels, 'update.strategy');
  if (found === undefined) return DEFAULT_STRATEGY;
  if ((STRATEGIES as readonly string[]).includes(found.value)) return found.value as UpdateStrategy;
  warnings.push({
    path: join(path, found.key),
    message: `unknown update strategy ${JSON.stringify(found.value)}; using ${DEFAULT_STRATEGY}`,
  });
  return DEFAULT_STRATEGY;
}

/** A hand-over longer than a day is a mistake; the agent's timers could not wait that long anyway. */
const MAX_HANDOVER_TIMEOUT_MS = 24 * 60 * 60 * 1000;

function handoverTimeoutOf(labels: Record<string, string>, path: string, warnings: TargetWarning[]): number {
  const found = label(labels, 'update.handover-timeout');
  if (found === undefined) return DEFAULT_HANDOVER_TIMEOUT_MS;
  const ms = /^\s*\d+\s*$/.test(found.value) ? Number(found.value) : NaN;
  if (Number.isSafeInteger(ms) && ms <= MAX_HANDOVER_TIMEOUT_MS) return ms;
  warnings.push({
    path: join(path, found.key),
    message: `invalid hand-over timeout ${JSON.stringify(found.value)} (expected milliseconds, at most ${MAX_HANDOVER_TIMEOUT_MS}); using ${DEFAULT_HANDOVER_TIMEOUT_MS}`,
  });
  return DEFAULT_HANDOVER_TIMEOUT_MS;
}

// A Docker reference: [registry[:port]/]path[:tag][@algo:hex]. Checked loosely but enough to
// reject text that can never be pulled; the registry has the last word.
const NAME_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const REGISTRY = /^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:]+\])(?::\d+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/**
 * Validates an image reference and adds `:latest` when it has neither tag nor digest, so the
 * same image always has the same spelling (comparisons with what the engine reports stay exact).
 */
export function normaliseImage(value: unknown, path: string): string {
  const image = expectNonEmptyString(value, path).trim();
  const bad = (why: string): never => {
    throw new TargetValidationError(path, `invalid image reference ${JSON.stringify(image)}: ${why}`);
  };
  if (/\s/.test(image)) bad('it contains whitespace');
  const [nameAndTag, digest, ...extra] = image.split('@');
  if (extra.length > 0 || (digest !== undefined && !DIGEST.test(digest))) bad('bad digest');
  const lastSlash = nameAndTag.lastIndexOf('/');
  const tagColon = nameAndTag.indexOf(':', lastSlash + 1);
  const name = tagColon < 0 ? nameAndTag : nameAndTag.slice(0, tagColon);
  const tag = tagColon < 0 ? undefined : nameAndTag.slice(tagColon + 1);
  if (tag !== undefined && !TAG.test(tag)) bad(`bad tag ${JSON.stringify(tag)}`);
  const components = name.split('/');
  const first = components[0];
  const hasRegistry =
    components.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasRegistry && !REGISTRY.test(first)) bad(`bad registry ${JSON.stringify(first)}`);
  for (const component of hasRegistry ? components.slice(1) : components) {
    if (!NAME_COMPONENT.test(component)) {
      bad(`bad repository name part ${JSON.stringify(component)} (lowercase letters, digits, ".", "_", "-")`);
    }
  }
  if (tag === undefined && digest === undefined) return `${image}:latest`;
  return image;
}
