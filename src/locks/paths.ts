import path from 'node:path';
import { ensureTrustedDir } from '../host/trusted-dirs.js';

/** Where an app's lock files and hand-over markers live on the host (contract sections 6 and 7). */
export interface LockLayout {
  /** BOSUN_LOCK_DIR: host base of the per-service lock dirs. */
  lockDir: string;
  /** BOSUN_DATA_DIR: the agent's state; apps' /data dirs live under it. */
  dataDir: string;
}

export interface LockPath {
  hostPath: string;
  /** The same file as the app sees it in its container. */
  containerPath: string;
  /** Undefined for the app-wide /data lock. */
  serviceName?: string;
}

/** Host dir mounted at both /tmp/balena and /tmp/resin in the service's containers. */
export function serviceLockDir(layout: LockLayout, appId: number, serviceName: string): string {
  return path.join(layout.lockDir, String(appId), serviceName);
}

/** Host dir mounted at /data in every container of the app; survives releases. */
export function appDataDir(layout: LockLayout, appId: number): string {
  return path.join(layout.dataDir, 'apps', String(appId), 'data');
}

/** Every path whose existence locks the app, for the given services of it. */
export function appLockPaths(layout: LockLayout, appId: number, serviceNames: Iterable<string>): LockPath[] {
  const paths: LockPath[] = [];
  for (const serviceName of [...new Set(serviceNames)].sort()) {
    const dir = serviceLockDir(layout, appId, serviceName);
    paths.push(
      { hostPath: path.join(dir, 'updates.lock'), containerPath: '/tmp/balena/updates.lock', serviceName },
      {
        hostPath: path.join(dir, 'resin-updates.lock'),
        containerPath: '/tmp/resin/resin-updates.lock',
        serviceName,
      },
    );
  }
  paths.push({
    hostPath: path.join(appDataDir(layout, appId), 'resin-updates.lock'),
    containerPath: '/data/resin-updates.lock',
  });
  return paths;
}

/** Markers a new service writes to tell the agent a hand-over is complete (either one is enough). */
export function handoverMarkerPaths(layout: LockLayout, appId: number, serviceName: string): string[] {
  const dir = serviceLockDir(layout, appId, serviceName);
  return [path.join(dir, 'handover-complete'), path.join(dir, 'resin-kill-me')];
}

/**
 * Creates (or checks) the service's lock dir: every component root's and unreachable by others,
 * the last one a real directory (its inside is the app's). Refuses anything a local user could
 * have planted on the way (contract section 2: root-owned, no symlinks on the way).
 */
export function ensureServiceLockDir(
  layout: LockLayout,
  appId: number,
  serviceName: string,
): Promise<string> {
  return ensureTrustedDir(layout.lockDir, [String(appId), serviceName], { mode: 0o755, appOwnsLast: true });
}

/** Creates (or checks) the app's /data dir, as ensureServiceLockDir does its lock dir. */
export function ensureAppDataDir(layout: LockLayout, appId: number): Promise<string> {
  return ensureTrustedDir(layout.dataDir, ['apps', String(appId), 'data'], {
    mode: 0o755,
    appOwnsLast: true,
  });
}
