/**
 * Targets made of deviceObject()s for the integration tests: one app brought up and waited for,
 * the same app moved to its next release, several apps in one target.
 */
import type { ContainerInfo } from '../../src/engine/types.js';
import { deviceObject, type ServiceDef } from './targets.js';
import { unique } from './wait.js';
import { type TestAgent } from './agent.js';
import { waitReleaseRunning } from './containers.js';
import { LOCKER_1 } from './images.js';

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
