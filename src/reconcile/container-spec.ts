import { LABELS, type ContainerSpec, type Mount } from '../engine/types.js';
import { appDataDir, serviceLockDir, type LockLayout } from '../locks/paths.js';
import { asksForNetRaw } from '../target/composition.js';
import { enabledFeatures } from '../target/features.js';
import type { Composition, TargetApp, TargetRelease, TargetService } from '../target/types.js';
import { featureGrants, type FeatureContext } from './feature-spec.js';
import { serviceNetworking, type ServiceNetworking } from './network-plan.js';

/**
 * Device-wide facts every container spec needs besides its target service. The feature context
 * (engine socket, cloud endpoint, device key) is not in the config hash: a device key that changes
 * reaches a balena-api service when its container is next recreated, as on balena.
 */
export interface SpecContext extends FeatureContext {
  deviceUuid: string;
  deviceName?: string;
  layout: LockLayout;
  /** The local API as containers reach it (host networking: 127.0.0.1 and the real port). */
  apiHost: string;
  apiPort: number;
  /** App-scoped API keys, by app id, for services labelled io.balena.features.supervisor-api. */
  appKeys: Record<number, string>;
}

export function containerName(service: TargetService, release: TargetRelease): string {
  return `${service.serviceName}_${service.imageId}_${release.id}_${release.uuid}`;
}

/**
 * The engine's name for a release volume: `bosun_<device uuid>_<app id>_<name>`. balena names it
 * `<app id>_<name>`; bosun prefixes the device uuid, because several agents may share one engine
 * (tests, the simulated fleet) and one agent's volume must never be taken, or removed, as
 * another's. Volumes are labelled with the device and the app; one the release no longer declares
 * goes once no old container may use it (plan.ts, planVolumes).
 */
export function volumeName(deviceUuid: string, appId: number, volume: string): string {
  return `bosun_${deviceUuid}_${appId}_${volume}`;
}

/**
 * The container bosun creates for a target service (contract section 6). Pure.
 *
 * `/data` is a bind mount of `<BOSUN_DATA_DIR>/apps/<app id>/data`, not a Docker volume: it
 * survives every release and goes only with a purge or the app's removal. A release volume aimed
 * at `/data` (balena's `resin-data:/data`) is left out, since it would hide bosun's `/data` and
 * the legacy lock in it. The service's lock dir is mounted at both /tmp/balena and /tmp/resin.
 */
export function containerSpecFor(
  app: TargetApp,
  release: TargetRelease,
  service: TargetService,
  configHash: string,
  ctx: SpecContext,
  networking: ServiceNetworking = serviceNetworking(app, release, service, [], (s) =>
    containerName(s, release),
  ),
): ContainerSpec {
  const c = service.composition;
  const labels = { ...c.labels, ...service.labels };
  const features = featureGrants(enabledFeatures(labels), ctx);
  const lockDir = serviceLockDir(ctx.layout, app.appId, service.serviceName);
  const ownMounts: Mount[] = [
    { type: 'bind', source: appDataDir(ctx.layout, app.appId), target: '/data' },
    { type: 'bind', source: lockDir, target: '/tmp/balena' },
    { type: 'bind', source: lockDir, target: '/tmp/resin' },
    ...features.mounts,
  ];
  const taken = new Set(ownMounts.map((m) => m.target));
  const mounts: Mount[] = [
    ...ownMounts,
    // A release volume aimed at a path bosun mounts (balena's `resin-data:/data`) is left out: it
    // would hide bosun's /data and the legacy lock in it (see the doc comment).
    ...c.volumes
      .filter((v) => !taken.has(v.target))
      .map((v) => ({
        type: 'volume' as const,
        // An anonymous volume has no name: the engine makes one, removed with the container.
        source: v.volume === undefined ? '' : volumeName(ctx.deviceUuid, app.appId, v.volume),
        target: v.target,
        readOnly: v.readOnly,
      })),
  ];
  return {
    name: containerName(service, release),
    image: service.image,
    labels: {
      ...labels,
      [LABELS.supervised]: 'true',
      [LABELS.appId]: String(app.appId),
      [LABELS.appUuid]: app.appUuid,
      [LABELS.serviceName]: service.serviceName,
      [LABELS.serviceId]: String(service.serviceId),
      [LABELS.deviceUuid]: ctx.deviceUuid,
      [LABELS.releaseUuid]: release.uuid,
      [LABELS.releaseId]: String(release.id),
      [LABELS.imageId]: String(service.imageId),
      [LABELS.configHash]: configHash,
    },
    env: {
      ...service.environment,
      ...features.env,
      ...supervisorEnv(app, service, ctx, features.balenaEnv, apiHostFor(networking, ctx)),
    },
    command: c.command,
    entrypoint: c.entrypoint,
    workingDir: c.workingDir,
    user: c.user,
    restart: c.restart,
    ...networkSpec(networking),
    capAdd: c.capAdd,
    capDrop: capabilitiesToDrop(c, networking),
    mounts,
    stopSignal: c.stopSignal,
    stopTimeoutSec: c.stopGracePeriodSec,
    init: c.init,
    tty: c.tty,
    healthcheck: c.healthcheck,
    ...(features.allGpus && { allGpus: true }),
    ...hardwareSpec(c),
  };
}

/** The engine's network mode (and endpoints) for how the service joins the network. */
function networkSpec(networking: ServiceNetworking): Pick<ContainerSpec, 'networkMode' | 'networks'> {
  switch (networking.mode) {
    case 'host':
    case 'none':
      return { networkMode: networking.mode };
    case 'container':
      return { networkMode: `container:${networking.container}` };
    case 'networks':
      return { networkMode: 'networks', networks: networking.endpoints };
  }
}

/**
 * Where the container reaches the local API: 127.0.0.1 (or the configured host) under host
 * networking; on a bridge, its first network's gateway, where the agent listens as well.
 */
function apiHostFor(networking: ServiceNetworking, ctx: SpecContext): string {
  return networking.mode === 'networks' || networking.mode === 'container'
    ? (networking.gateway ?? ctx.apiHost)
    : ctx.apiHost;
}

/** The composition's ports, hardware, privilege and resource keys, under the engine's names. */
function hardwareSpec(c: Composition): Partial<ContainerSpec> {
  const spec: Partial<ContainerSpec> = {
    openStdin: c.stdinOpen,
    ports: c.ports,
    privileged: c.privileged,
    devices: c.devices,
    deviceCgroupRules: c.deviceCgroupRules,
    securityOpt: c.securityOpt,
    sysctls: c.sysctls,
    ulimits: c.ulimits,
    pidMode: c.pid,
    ipcMode: c.ipc,
    groupAdd: c.groupAdd,
    shmSize: c.shmSize,
    readOnlyRootfs: c.readOnly,
    tmpfs: c.tmpfs,
    memory: c.memLimit,
    memoryReservation: c.memReservation,
    memorySwap: c.memswapLimit,
    cpuShares: c.cpuShares,
    cpuQuota: c.cpuQuota,
    cpusetCpus: c.cpuset,
    oomKillDisable: c.oomKillDisable,
    oomScoreAdj: c.oomScoreAdj,
    dns: c.dns,
    dnsSearch: c.dnsSearch,
    dnsOptions: c.dnsOpt,
    extraHosts: c.extraHosts,
    hostname: c.hostname,
    domainname: c.domainname,
    macAddress: c.macAddress,
    logConfig: c.logging,
  };
  // Left out rather than undefined, so specs compare equal to what a test writes out.
  for (const key of Object.keys(spec) as Array<keyof ContainerSpec>) {
    if (spec[key] === undefined) delete spec[key];
  }
  return spec;
}

/**
 * A service on the host's network with Docker's default NET_RAW could open a raw or packet socket
 * on loopback and read the local API's traffic, the global key included. It gets NET_RAW only when
 * the release asks for it (a `cap_add` of NET_RAW or ALL, or `privileged`); no other network mode
 * shares the host's loopback (but one sharing the stack of a host service does). The release's
 * own `cap_drop` is kept beside it.
 */
function capabilitiesToDrop(c: Composition, networking: ServiceNetworking): string[] | undefined {
  const drop = [...(c.capDrop ?? [])];
  const onHost =
    networking.mode === 'host' || (networking.mode === 'container' && networking.hostStack === true);
  if (onHost && !asksForNetRaw(c) && !drop.includes('NET_RAW')) drop.push('NET_RAW');
  return drop.length > 0 ? drop : undefined;
}

/** BALENA_* variables (and their RESIN_* twins) every service gets. */
function supervisorEnv(
  app: TargetApp,
  service: TargetService,
  ctx: SpecContext,
  featureVars: Record<string, string>,
  apiHost: string,
): Record<string, string> {
  const address = `http://${apiHost}:${ctx.apiPort}`;
  const vars: Record<string, string> = {
    '': '1',
    APP_ID: String(app.appId),
    APP_UUID: app.appUuid,
    APP_NAME: app.name,
    SERVICE_NAME: service.serviceName,
    DEVICE_UUID: ctx.deviceUuid,
    APP_LOCK_PATH: '/tmp/balena/updates.lock',
    SUPERVISOR_ADDRESS: address,
    SUPERVISOR_HOST: apiHost,
    SUPERVISOR_PORT: String(ctx.apiPort),
  };
  if (ctx.deviceName) vars.DEVICE_NAME_AT_INIT = ctx.deviceName;
  const key = ctx.appKeys[app.appId];
  if (service.supervisorApi && key) vars.SUPERVISOR_API_KEY = key;
  Object.assign(vars, featureVars);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(vars)) {
    env[name ? `BALENA_${name}` : 'BALENA'] = value;
    env[name ? `RESIN_${name}` : 'RESIN'] = value;
  }
  // balena's legacy twin names the legacy lock file; both are the same protocol.
  env.RESIN_APP_LOCK_PATH = '/tmp/resin/resin-updates.lock';
  return env;
}
