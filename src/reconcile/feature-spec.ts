/**
 * What the feature labels of contract section 9 add to a container: host paths bound in (the
 * only host paths a release container ever gets: a release's own bind mounts are not applied),
 * environment variables and device requests. Pure; balena-supervisor's `service.ts` is the model.
 */
import type { Mount } from '../engine/types.js';
import type { Feature } from '../target/features.js';

/** Where a service with io.balena.features.balena-socket finds the engine. */
export const BALENA_SOCKET_IN_CONTAINER = '/var/run/balena.sock';

/** The device facts the features draw on. */
export interface FeatureContext {
  /** The engine's unix socket on the host; absent when the agent reaches the engine over TCP. */
  hostDockerSocket?: string;
  /** The cloud the device talks to; empty in local mode. */
  apiEndpoint?: string;
  /** The device's key for that cloud. */
  deviceApiKey?: string;
}

export interface FeatureGrants {
  mounts: Mount[];
  /** Variables set as given (no BALENA_/RESIN_ twins made). */
  env: Record<string, string>;
  /** Variables every service also gets as a RESIN_ twin (names without the BALENA_ prefix). */
  balenaEnv: Record<string, string>;
  allGpus: boolean;
}

/**
 * Host paths each feature binds, at the same path unless said otherwise. They are binds that the
 * engine creates when missing (`createHostPath`), as balena's are: a host without /lib/modules
 * still runs a service that asks for kernel modules.
 */
const HOST_PATHS: Partial<Record<Feature, Array<{ source: string; target?: string; readOnly?: boolean }>>> = {
  dbus: [{ source: '/run/dbus', target: '/host/run/dbus' }],
  sysfs: [{ source: '/sys' }],
  procfs: [{ source: '/proc' }],
  'kernel-modules': [{ source: '/lib/modules' }],
  firmware: [{ source: '/lib/firmware' }],
  'journal-logs': [
    { source: '/var/log/journal', readOnly: true },
    { source: '/run/log/journal', readOnly: true },
    { source: '/etc/machine-id', readOnly: true },
  ],
};

export function featureGrants(features: readonly Feature[], ctx: FeatureContext): FeatureGrants {
  const grants: FeatureGrants = { mounts: [], env: {}, balenaEnv: {}, allGpus: false };
  for (const feature of features) {
    for (const bind of HOST_PATHS[feature] ?? []) {
      grants.mounts.push({
        type: 'bind',
        source: bind.source,
        target: bind.target ?? bind.source,
        ...(bind.readOnly && { readOnly: true }),
        createHostPath: true,
      });
    }
  }
  if (features.includes('dbus')) {
    // What balena sets, so D-Bus clients find the host's system bus without configuration.
    grants.env.DBUS_SYSTEM_BUS_ADDRESS = 'unix:path=/host/run/dbus/system_bus_socket';
  }
  // Without a unix socket there is nothing to bind: the service gets neither the mount nor
  // DOCKER_HOST, and the target carries a warning (policy/admission.ts).
  if (features.includes('balena-socket') && ctx.hostDockerSocket !== undefined) {
    // A socket that is missing must fail the create, not become an empty directory.
    grants.mounts.push({ type: 'bind', source: ctx.hostDockerSocket, target: BALENA_SOCKET_IN_CONTAINER });
    grants.env.DOCKER_HOST = `unix://${BALENA_SOCKET_IN_CONTAINER}`;
  }
  if (features.includes('balena-api')) {
    grants.balenaEnv.API_URL = ctx.apiEndpoint ?? '';
    grants.balenaEnv.API_KEY = ctx.deviceApiKey ?? '';
  }
  grants.allGpus = features.includes('gpu');
  return grants;
}
