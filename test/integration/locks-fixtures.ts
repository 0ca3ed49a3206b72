/**
 * Shared pieces of the update-lock integration tests (locks-*.test.ts): lock paths as the host
 * sees them, taking a lock from inside a container the way apps do, and waiting on what the
 * agent reports.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from '@jest/globals';
import type { AgentConfig } from '../../src/config/schema.js';
import type { ContainerInfo } from '../../src/engine/types.js';
import { REGISTRY } from '../helpers/docker.js';
import { waitFor, type TestAgent } from '../helpers/agent.js';

const run = promisify(execFile);

export const DOCKER = '/usr/bin/docker';
export const LOCKER_1 = `${REGISTRY}/bosun/locker:1`;
export const LOCKER_2 = `${REGISTRY}/bosun/locker:2`;

/** The three places an app can hold its update lock, as the container sees them. */
export const CONTAINER_LOCK_PATHS = {
  balena: '/tmp/balena/updates.lock',
  resin: '/tmp/resin/resin-updates.lock',
  data: '/data/resin-updates.lock',
} as const;
export type LockKind = keyof typeof CONTAINER_LOCK_PATHS;

/** The host side of a lock path (contract sections 6 and 7). */
export function hostLockPath(
  config: Pick<AgentConfig, 'lockDir' | 'dataDir'>,
  appId: number,
  serviceName: string,
  kind: LockKind,
): string {
  if (kind === 'data') return path.join(config.dataDir, 'apps', String(appId), 'data', 'resin-updates.lock');
  const file = kind === 'balena' ? 'updates.lock' : 'resin-updates.lock';
  return path.join(config.lockDir, String(appId), serviceName, file);
}

export async function dockerExec(containerId: string, args: string[]): Promise<string> {
  const { stdout } = await run(DOCKER, ['exec', containerId, ...args], { timeout: 15_000 });
  return stdout;
}

/** Takes an update lock inside the container by exclusive create, as balena apps do. */
export async function takeLockInside(
  containerId: string,
  containerPath: string = CONTAINER_LOCK_PATHS.balena,
): Promise<void> {
  await dockerExec(containerId, ['sh', '-c', `set -C; : > ${containerPath}`]);
}

export async function releaseLockInside(
  containerId: string,
  containerPath: string = CONTAINER_LOCK_PATHS.balena,
): Promise<void> {
  await dockerExec(containerId, ['rm', containerPath]);
}

export async function appContainers(t: TestAgent, appUuid: string): Promise<ContainerInfo[]> {
  return (await t.containers()).filter((c) => c.appUuid === appUuid);
}

/** Waits until the app runs exactly `services` containers, all of `releaseUuid`, and returns them by service. */
export async function waitReleaseRunning(
  t: TestAgent,
  appUuid: string,
  releaseUuid: string,
  services: string[],
  timeoutMs = 30_000,
): Promise<Record<string, ContainerInfo>> {
  return waitFor(
    `app ${appUuid} running release ${releaseUuid} (${services.join(', ')})`,
    async () => {
      const cs = await appContainers(t, appUuid);
      const ok =
        cs.length === services.length &&
        cs.every((c) => c.releaseUuid === releaseUuid && c.status === 'running') &&
        services.every((s) => cs.some((c) => c.serviceName === s));
      return ok ? Object.fromEntries(cs.map((c) => [c.serviceName, c])) : undefined;
    },
    timeoutMs,
  );
}

interface AppStateEntry {
  appUuid: string;
  updateStatus: string;
  commit: string | null;
}

/** The app's entry in GET /v2/applications/state. */
export async function appState(t: TestAgent, appUuid: string): Promise<AppStateEntry | undefined> {
  const res = await t.api('GET', '/v2/applications/state');
  expect(res.status).toBe(200);
  return Object.values(res.body as Record<string, AppStateEntry>).find((a) => a.appUuid === appUuid);
}

export async function waitUpdateStatus(
  t: TestAgent,
  appUuid: string,
  status: string,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    `app ${appUuid} updateStatus ${status}`,
    async () => (await appState(t, appUuid))?.updateStatus === status,
    timeoutMs,
  );
}

export interface LockListEntry {
  appUuid: string;
  appId: number;
  serviceName: string | null;
  path: string;
  hostPath: string;
  holder: 'app' | 'agent';
  since: string;
}

/** GET /v2/locks, for one app. */
export async function listedLocks(t: TestAgent, appUuid: string): Promise<LockListEntry[]> {
  const res = await t.api('GET', '/v2/locks');
  expect(res.status).toBe(200);
  return (res.body as { locks: LockListEntry[] }).locks.filter((l) => l.appUuid === appUuid);
}

/** One target holding the apps of several deviceObject()s; config from the first unless given. */
export function devices(
  parts: Array<Record<string, unknown>>,
  config?: Record<string, string>,
): Record<string, unknown> {
  const apps = Object.assign({}, ...parts.map((p) => p.apps as Record<string, unknown>)) as Record<
    string,
    unknown
  >;
  return { ...parts[0], config: config ?? parts[0]!.config, apps };
}

export async function pathExists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
