/**
 * Shared set-up for tests that use the real Docker engine and the local registry. A missing
 * engine fails the test loudly: these tests must never pass by being skipped.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { LABELS, type Engine } from '../../src/engine/types.js';

const run = promisify(execFile);

export const REGISTRY = '127.0.0.1:5000';

export const DOCKER_HOST = 'unix:///var/run/docker.sock';

const BUILD_IMAGE_SCRIPT = fileURLToPath(new URL('../../scripts/images/build-image.sh', import.meta.url));

/** Pings the engine; throws when it does not answer, so the test run fails rather than skips. */
export async function requireEngine(engine: Pick<Engine, 'ping'>): Promise<void> {
  try {
    await engine.ping();
  } catch (err) {
    throw new Error(
      `integration tests need a running Docker engine: run bash scripts/stack/up.sh (${(err as Error).message})`,
      { cause: err },
    );
  }
}

/** A fresh device uuid (32 hex digits, like bosun's own), so each test file owns its labels. */
export function uniqueDeviceUuid(): string {
  return randomUUID().replace(/-/g, '');
}

/** Builds (and, for a registry reference, pushes) an image with scripts/images/build-image.sh. */
export async function buildImage(ref: string, releaseText: string, appScript?: string): Promise<string> {
  const args = [BUILD_IMAGE_SCRIPT, ref, releaseText, ...(appScript === undefined ? [] : [appScript])];
  const { stdout } = await run('bash', args, { timeout: 60_000 });
  return stdout.trim();
}

/** Runs a removal; "already gone" (404) is what we wanted anyway. */
async function removing(removal: Promise<unknown>): Promise<void> {
  try {
    await removal;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

/** Removes the local copy of an image, so the next pull really downloads it. Missing is fine. */
export async function removeLocalImage(ref: string): Promise<void> {
  await removing(new Docker({ socketPath: '/var/run/docker.sock' }).getImage(ref).remove({ force: true }));
}

/** Force-removes every container, volume and network labelled with this device uuid. */
export async function removeContainersOf(deviceUuid: string): Promise<void> {
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const label = `${LABELS.deviceUuid}=${deviceUuid}`;
  const containers = await docker.listContainers({ all: true, filters: { label: [label] } });
  await Promise.all(
    containers.map((c) => removing(docker.getContainer(c.Id).remove({ force: true, v: true }))),
  );
  const { Volumes } = await docker.listVolumes({ filters: { label: [label] } });
  await Promise.all((Volumes ?? []).map((v) => removing(docker.getVolume(v.Name).remove())));
  const networks = await docker.listNetworks({ filters: { label: [label] } });
  await Promise.all(networks.map((n) => removing(docker.getNetwork(n.Id).remove())));
}
