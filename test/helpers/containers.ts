/**
 * Real containers as a user sees them: docker exec and inspect through the docker CLI, update
 * locks taken from inside a container the way apps take them, and waits on which release of an
 * app is running.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import type { ContainerInfo, ContainerStatus } from '../../src/engine/types.js';
import { waitFor } from './wait.js';
import { BALENA_LOCK } from './locks.js';

const run = promisify(execFile);

/** The Debian engine's own CLI (not /usr/local/bin/docker). */
export const DOCKER_CLI = '/usr/bin/docker';

export async function dockerExec(containerId: string, args: string[], timeoutMs = 15_000): Promise<string> {
  const { stdout } = await run(DOCKER_CLI, ['exec', containerId, ...args], { timeout: timeoutMs });
  return stdout;
}

/** Runs a shell script inside the container (`sh -c`). */
export function shellIn(containerId: string, script: string): Promise<string> {
  return dockerExec(containerId, ['sh', '-c', script]);
}

/**
 * Takes an update lock inside the container with the sample images' own `lock take`: an
 * exclusive create (`set -C`), as balena apps do; fails when the lock is already there.
 */
export async function takeLockInside(
  containerId: string,
  containerPath: string = BALENA_LOCK,
): Promise<void> {
  await dockerExec(containerId, ['/bin/lock', 'take', containerPath]);
}

/** Removes the app's lock from inside the container; fails when there is no lock to remove. */
export async function releaseLockInside(
  containerId: string,
  containerPath: string = BALENA_LOCK,
): Promise<void> {
  await dockerExec(containerId, ['rm', containerPath]);
}

/** `NAME=value` entries (docker's Config.Env) as a record. */
export function envRecord(entries: string[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
}

/** The container's environment as docker inspect reports it. */
export async function containerEnv(containerId: string): Promise<Record<string, string>> {
  const { stdout } = await run(DOCKER_CLI, ['inspect', '--format', '{{json .Config.Env}}', containerId], {
    timeout: 15_000,
  });
  return envRecord(JSON.parse(stdout) as string[]);
}

/** Whether the engine still knows the container at all (stopped counts; removed does not). */
export async function containerExists(id: string): Promise<boolean> {
  try {
    await new Docker({ socketPath: '/var/run/docker.sock' }).getContainer(id).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** Anything that lists one device's containers: a TestAgent, or an engine bound to a uuid. */
export interface ContainerSource {
  containers(): Promise<ContainerInfo[]>;
}

export async function appContainers(source: ContainerSource, appUuid: string): Promise<ContainerInfo[]> {
  return (await source.containers()).filter((c) => c.appUuid === appUuid);
}

/**
 * The app's containers by service name when it has exactly `services`, all of `releaseUuid` and
 * all `status`; undefined otherwise (nothing of another release may be left, not even stopped).
 */
export async function releaseContainers(
  source: ContainerSource,
  appUuid: string,
  releaseUuid: string,
  services: string[] = ['main'],
  status: ContainerStatus = 'running',
): Promise<Record<string, ContainerInfo> | undefined> {
  const cs = await appContainers(source, appUuid);
  const ok =
    cs.length === services.length &&
    cs.every((c) => c.releaseUuid === releaseUuid && c.status === status) &&
    services.every((s) => cs.some((c) => c.serviceName === s));
  return ok ? Object.fromEntries(cs.map((c) => [c.serviceName, c])) : undefined;
}

/** Waits until the app runs exactly `services`, all of `releaseUuid`; returns them by service name. */
export function waitReleaseRunning(
  source: ContainerSource,
  appUuid: string,
  releaseUuid: string,
  services: string[] = ['main'],
  timeoutMs = 30_000,
): Promise<Record<string, ContainerInfo>> {
  return waitReleaseIn(source, appUuid, releaseUuid, 'running', services, timeoutMs);
}

/** Waits until the app has exactly `services`, all of `releaseUuid` and all `status`. */
export function waitReleaseIn(
  source: ContainerSource,
  appUuid: string,
  releaseUuid: string,
  status: ContainerStatus,
  services: string[] = ['main'],
  timeoutMs = 30_000,
): Promise<Record<string, ContainerInfo>> {
  return waitFor(
    `app ${appUuid}: release ${releaseUuid} ${status} (${services.join(', ')})`,
    () => releaseContainers(source, appUuid, releaseUuid, services, status),
    timeoutMs,
  );
}
