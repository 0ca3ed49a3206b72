/**
 * An app's networks in the plan (contract section 9): which the release wants, which are ready,
 * which are made, recreated or removed, and how each service joins them. Pure, like plan.ts.
 *
 * A network is `<app id>_<name>` on the engine (balena's name), labelled with the device, the app
 * and a hash of its configuration. The hash is folded into the config hash of every service that
 * joins it, so a changed network means changed services: their containers are killed under the
 * app's lock like any other recreate, the network goes once nothing is attached to it, and is
 * made again before the new containers. A network of a wanted name that another device (or no
 * bosun at all) owns is never touched: the app is refused with an error until it is gone.
 */
import {
  LABELS,
  type ContainerInfo,
  type NetworkEndpoint,
  type NetworkInfo,
  type NetworkSpec,
} from '../engine/types.js';
import { foldedConfigHash, networkConfigHash, serviceConfigHash } from '../target/config-hash.js';
import { networkPeer } from '../target/compose-networks.js';
import type { NetworkConfig, TargetApp, TargetRelease, TargetService } from '../target/types.js';
import type { Step } from './steps.js';

/** The label that holds the hash of a network's configuration. */
export const NETWORK_CONFIG_HASH_LABEL = 'io.bosun.network-config-hash';

/** The engine's name of an app's network: `<app id>_<name>`, as balena names it. */
export function appNetworkName(appId: number, name: string): string {
  return `${appId}_${name}`;
}

/** The engine names of every network the target's releases declare (for the facts). */
export function wantedNetworkNames(apps: Iterable<TargetApp>): string[] {
  const names: string[] = [];
  for (const app of apps) {
    for (const name of Object.keys(app.release?.networks ?? {})) names.push(appNetworkName(app.appId, name));
  }
  return names.sort();
}

/**
 * The hash each service's container is labelled with: its own config, plus the configuration of
 * the networks it joins, plus (network_mode service:) the hash of the service whose stack it
 * shares. A host or none service keeps its plain hash.
 */
export function serviceHashes(release: TargetRelease): Map<string, string> {
  const hashes = new Map<string, string>();
  const hashOf = (service: TargetService, trail: string[]): string => {
    const known = hashes.get(service.serviceName);
    if (known !== undefined) return known;
    const base = serviceConfigHash(service);
    const c = service.composition;
    const peer = networkPeer(c);
    let hash = base;
    if (c.networkMode === 'app') {
      const networks = (c.networks ?? []).map((n) => {
        const config = release.networks[n.name];
        return config === undefined ? null : networkConfigHash(config);
      });
      hash = foldedConfigHash(base, { networks });
    } else if (peer !== undefined && release.services[peer] && !trail.includes(peer)) {
      hash = foldedConfigHash(base, {
        peer: hashOf(release.services[peer], [...trail, service.serviceName]),
      });
    }
    hashes.set(service.serviceName, hash);
    return hash;
  };
  for (const service of Object.values(release.services)) hashOf(service, []);
  return hashes;
}

/** The spec of an app network: the release's own labels, then bosun's (which win). */
export function networkSpecFor(
  app: TargetApp,
  name: string,
  config: NetworkConfig,
  deviceUuid: string,
): NetworkSpec {
  return {
    name: appNetworkName(app.appId, name),
    ...(config.driverOpts !== undefined && { driverOpts: config.driverOpts }),
    ...(config.ipam !== undefined && { ipam: config.ipam }),
    ...(config.internal !== undefined && { internal: config.internal }),
    ...(config.enableIpv6 !== undefined && { enableIpv6: config.enableIpv6 }),
    labels: {
      ...config.labels,
      [LABELS.supervised]: 'true',
      [LABELS.appId]: String(app.appId),
      [LABELS.appUuid]: app.appUuid,
      [LABELS.deviceUuid]: deviceUuid,
      [NETWORK_CONFIG_HASH_LABEL]: networkConfigHash(config),
    },
  };
}

/** How a container joins the network, and the address at which it reaches the local API. */
export type ServiceNetworking =
  | { mode: 'host' | 'none' }
  | { mode: 'networks'; endpoints: NetworkEndpoint[]; gateway?: string }
  /** `hostStack`: the stack shared is (in the end) the host's own. */
  | { mode: 'container'; container: string; gateway?: string; hostStack?: boolean };

export interface AppNetworkPlan {
  steps: Step[];
  /** Engine names of the app's networks that exist, are this device's and have the wanted config. */
  ready: Set<string>;
  /** Why the app's release cannot run here (a wanted name is another's network); empty if it can. */
  conflicts: string[];
}

const attachedTo = (name: string, containers: ContainerInfo[]) =>
  containers.some((c) => (c.networks ?? []).includes(name));

/**
 * The network steps of one app: create what is missing, remove (to make again) what changed once
 * no container is attached, remove what no target names any more once nothing uses it.
 */
export function planAppNetworks(
  appUuid: string,
  app: TargetApp | undefined,
  networks: readonly NetworkInfo[],
  containers: ContainerInfo[],
  deviceUuid: string,
): AppNetworkPlan {
  const out: AppNetworkPlan = { steps: [], ready: new Set(), conflicts: [] };
  const wanted = new Set<string>();
  for (const [name, config] of Object.entries(app?.release?.networks ?? {})) {
    const spec = networkSpecFor(app!, name, config, deviceUuid);
    wanted.add(spec.name);
    const present = networks.find((n) => n.name === spec.name);
    if (present === undefined) {
      out.steps.push({ action: 'createNetwork', appUuid, network: spec.name, spec });
    } else if (
      present.labels[LABELS.deviceUuid] !== deviceUuid ||
      present.labels[LABELS.appUuid] !== appUuid
    ) {
      const owner = present.labels[LABELS.deviceUuid];
      out.conflicts.push(
        `network ${spec.name} already exists and is not this app's ` +
          `(${owner === undefined ? 'it has no device label' : `it belongs to device ${owner}`}); it is left as it is`,
      );
    } else if (present.labels[NETWORK_CONFIG_HASH_LABEL] === spec.labels[NETWORK_CONFIG_HASH_LABEL]) {
      out.ready.add(spec.name);
    } else if (!attachedTo(spec.name, containers)) {
      // Changed: made again once its old containers (whose hashes changed with it) are gone.
      out.steps.push({ action: 'removeNetwork', appUuid, network: spec.name });
    }
  }
  for (const n of networks) {
    const ours = n.labels[LABELS.deviceUuid] === deviceUuid && n.labels[LABELS.appUuid] === appUuid;
    if (ours && !wanted.has(n.name) && !attachedTo(n.name, containers)) {
      out.steps.push({ action: 'removeNetwork', appUuid, network: n.name });
    }
  }
  return out;
}

/** The networks a service's container must be attached to (engine names), in order. */
export function serviceNetworkNames(appId: number, service: TargetService): string[] {
  if (service.composition.networkMode !== 'app') return [];
  return (service.composition.networks ?? []).map((n) => appNetworkName(appId, n.name));
}

/**
 * How the service's container joins the network, with the gateway of its first network (the
 * host's address there, where the local API listens for it). Every service is reachable by its
 * own name on each app network it joins.
 */
export function serviceNetworking(
  app: TargetApp,
  release: TargetRelease,
  service: TargetService,
  networks: readonly NetworkInfo[],
  containerNameOf: (service: TargetService) => string,
): ServiceNetworking {
  const c = service.composition;
  if (c.networkMode === 'host' || c.networkMode === 'none') return { mode: c.networkMode };
  const peerName = networkPeer(c);
  if (peerName !== undefined) {
    const peer = release.services[peerName];
    const gateway = peer ? gatewayOf(app, release, peer, networks, [service.serviceName]) : undefined;
    return {
      mode: 'container',
      container: peer ? containerNameOf(peer) : peerName,
      ...(gateway !== undefined && { gateway }),
      ...(peer && rootStack(release, peer, [service.serviceName]) === 'host' && { hostStack: true }),
    };
  }
  const endpoints = (c.networks ?? []).map((n) => ({
    network: appNetworkName(app.appId, n.name),
    aliases: [...new Set([service.serviceName, ...(n.aliases ?? [])])],
    ...(n.ipv4Address !== undefined && { ipv4Address: n.ipv4Address }),
  }));
  const gateway = networks.find((n) => n.name === endpoints[0]?.network)?.gateway;
  return { mode: 'networks', endpoints, ...(gateway !== undefined && { gateway }) };
}

/** The network mode at the end of a chain of shared stacks. */
function rootStack(release: TargetRelease, service: TargetService, trail: string[]): string {
  const peer = networkPeer(service.composition);
  const next = peer === undefined ? undefined : release.services[peer];
  if (next === undefined || trail.includes(peer!)) return service.composition.networkMode;
  return rootStack(release, next, [...trail, service.serviceName]);
}

function gatewayOf(
  app: TargetApp,
  release: TargetRelease,
  service: TargetService,
  networks: readonly NetworkInfo[],
  trail: string[],
): string | undefined {
  const c = service.composition;
  const peer = networkPeer(c);
  if (peer !== undefined) {
    const next = release.services[peer];
    if (next === undefined || trail.includes(peer)) return undefined;
    return gatewayOf(app, release, next, networks, [...trail, service.serviceName]);
  }
  const first = c.networkMode === 'app' ? c.networks?.[0] : undefined;
  if (first === undefined) return undefined;
  return networks.find((n) => n.name === appNetworkName(app.appId, first.name))?.gateway;
}
