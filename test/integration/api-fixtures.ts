/**
 * Shared pieces of the local-API integration tests (api-*.test.ts): raw HTTP calls with any key
 * form, docker exec and inspect on real containers, and waits on what the agent reports.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ContainerInfo } from '../../src/engine/types.js';
import { REGISTRY } from '../helpers/docker.js';
import { deviceObject, unique, waitFor, type ServiceDef, type TestAgent } from '../helpers/agent.js';

const run = promisify(execFile);

export const DOCKER = '/usr/bin/docker';
export const DEMO_1 = `${REGISTRY}/bosun/demo:1`;
export const DEMO_2 = `${REGISTRY}/bosun/demo:2`;
export const LOCKER_1 = `${REGISTRY}/bosun/locker:1`;
export const LOCKER_2 = `${REGISTRY}/bosun/locker:2`;
/** The lock path apps use, as the container sees it. */
export const BALENA_LOCK = '/tmp/balena/updates.lock';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Reply {
  status: number;
  body: unknown;
  text: string;
}

/** One request to the agent's API with exactly the headers given (no key unless one is passed). */
export async function rawApi(
  port: number,
  method: string,
  route: string,
  options: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: {
      ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    body = text; // plain-text answers such as OK
  }
  return { status: response.status, body, text };
}

export async function dockerExec(containerId: string, args: string[]): Promise<string> {
  const { stdout } = await run(DOCKER, ['exec', containerId, ...args], { timeout: 15_000 });
  return stdout;
}

/** Takes the update lock inside the container with the image's own `lock take` (exclusive create). */
export async function takeLockInside(containerId: string, containerPath = BALENA_LOCK): Promise<void> {
  await dockerExec(containerId, ['/bin/lock', 'take', containerPath]);
}

export async function releaseLockInside(containerId: string, containerPath = BALENA_LOCK): Promise<void> {
  await dockerExec(containerId, ['/bin/lock', 'release', containerPath]);
}

/** The container's environment as docker inspect reports it. */
export async function containerEnv(containerId: string): Promise<Record<string, string>> {
  const { stdout } = await run(DOCKER, ['inspect', '--format', '{{json .Config.Env}}', containerId], {
    timeout: 15_000,
  });
  const entries = JSON.parse(stdout) as string[];
  return Object.fromEntries(
    entries.map((entry) => {
      const at = entry.indexOf('=');
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
}

export async function appContainers(t: TestAgent, appUuid: string): Promise<ContainerInfo[]> {
  return (await t.containers()).filter((c) => c.appUuid === appUuid);
}

/** Waits until the app runs exactly `services`, all of `releaseUuid`; returns them by service name. */
export async function waitReleaseRunning(
  t: TestAgent,
  appUuid: string,
  releaseUuid: string,
  services: string[] = ['main'],
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

/** The app's entry in GET /v2/applications/state (keyed by app name). */
export async function appState(t: TestAgent, appUuid: string): Promise<Record<string, unknown> | undefined> {
  const reply = await t.api('GET', '/v2/applications/state');
  const apps = Object.values(reply.body as Record<string, Record<string, unknown>>);
  return apps.find((a) => a.appUuid === appUuid);
}

export async function waitUpdateStatus(t: TestAgent, appUuid: string, status: string, timeoutMs = 30_000) {
  return waitFor(
    `app ${appUuid} reporting updateStatus ${status}`,
    async () => (await appState(t, appUuid))?.updateStatus === status,
    timeoutMs,
  );
}

export interface TestApp {
  appUuid: string;
  appId: number;
  releaseUuid: string;
  releaseId: number;
  target: Record<string, unknown>;
  running: Record<string, ContainerInfo>;
}

/**
 * Makes one app (fresh uuids) the device's whole target and waits until it runs. Each call
 * replaces the previous app, so tests in one file do not pile containers up.
 */
export async function startApp(
  t: TestAgent,
  appId: number,
  services: Record<string, ServiceDef> = { main: { image: LOCKER_1 } },
  volumes?: Record<string, object>,
): Promise<TestApp> {
  const appUuid = unique('app');
  const releaseUuid = unique('rel');
  const target = deviceObject({ appUuid, appId, releaseUuid, releaseId: 1, services, volumes });
  await t.setTarget(target);
  const running = await waitReleaseRunning(t, appUuid, releaseUuid, Object.keys(services));
  return { appUuid, appId, releaseUuid, releaseId: 1, target, running };
}

/** The same app moved to a new release (new release uuid and id) of the given services. */
export function nextRelease(
  app: Pick<TestApp, 'appUuid' | 'appId'>,
  releaseId: number,
  services: Record<string, ServiceDef>,
): { releaseUuid: string; target: Record<string, unknown> } {
  const releaseUuid = unique('rel');
  return {
    releaseUuid,
    target: deviceObject({ appUuid: app.appUuid, appId: app.appId, releaseUuid, releaseId, services }),
  };
}
