/**
 * The baseline for reconcile.ts: the least a program can do with dockerode to make the same
 * release change, with no planning, no fact gathering, no locks and no store. Containers are
 * created from the very specs bosun would use, so the engine does the same work for both.
 * Order, as download-then-kill asks: every pull first, then per service (in parallel) stop,
 * remove, create, start.
 */
import Docker from 'dockerode';
import { toCreateOptions, toNetworkCreateOptions } from '../../src/engine/docker-mapping.js';
import { LABELS, type ContainerSpec } from '../../src/engine/types.js';
import { networkSpecFor } from '../../src/reconcile/network-plan.js';
import { containerSpecFor, type SpecContext } from '../../src/reconcile/container-spec.js';
import { serviceConfigHash } from '../../src/target/config-hash.js';
import type { TargetState } from '../../src/target/types.js';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });

/** The container specs bosun would create for every service of a target. */
export function specsOf(target: TargetState, ctx: SpecContext): ContainerSpec[] {
  const specs: ContainerSpec[] = [];
  for (const app of Object.values(target.apps)) {
    const release = app.release!;
    for (const service of Object.values(release.services)) {
      specs.push(containerSpecFor(app, release, service, serviceConfigHash(service), ctx));
    }
  }
  return specs;
}

export async function pull(ref: string): Promise<void> {
  const stream = (await docker.pull(ref)) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) =>
    docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function createAndStart(spec: ContainerSpec): Promise<string> {
  const container = await docker.createContainer(toCreateOptions(spec));
  await container.start();
  return container.id;
}

/** Untimed set-up: the old release's containers, running. */
export async function install(specs: ContainerSpec[]): Promise<string[]> {
  return Promise.all(specs.map(createAndStart));
}

/** The timed change: returns the new containers' ids once every one of them has started. */
export async function change(oldIds: string[], next: ContainerSpec[], pulls: string[]): Promise<string[]> {
  await Promise.all([...new Set(pulls)].map(pull));
  return Promise.all(
    next.map(async (spec, i) => {
      const old = docker.getContainer(oldIds[i]!);
      await old.stop({ t: spec.stopTimeoutSec ?? 10 });
      await old.remove({ force: true });
      return createAndStart(spec);
    }),
  );
}

/**
 * The timed first install on app networks: create every network of the release, then create and
 * start every container (each on its one network) in parallel.
 */
export async function installOnNetwork(
  target: TargetState,
  specs: ContainerSpec[],
  deviceUuid: string,
): Promise<string[]> {
  for (const app of Object.values(target.apps)) {
    for (const [name, config] of Object.entries(app.release?.networks ?? {})) {
      await docker.createNetwork(toNetworkCreateOptions(networkSpecFor(app, name, config, deviceUuid)));
    }
  }
  return Promise.all(specs.map(createAndStart));
}

export async function removeNetworksOf(deviceUuid: string): Promise<void> {
  const networks = await docker.listNetworks({ filters: { label: [`${LABELS.deviceUuid}=${deviceUuid}`] } });
  await Promise.all(networks.map((n) => docker.getNetwork(n.Id).remove()));
}

export async function removeAll(ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => docker.getContainer(id).remove({ force: true })));
}

/** Removes an image's local copy so the next pull downloads it; absent is fine. */
export async function removeLocalImage(ref: string): Promise<void> {
  try {
    await docker.getImage(ref).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}
