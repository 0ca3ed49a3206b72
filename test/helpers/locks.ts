/**
 * Update-lock paths as tests see them: where an app's locks are inside its container and on the
 * host (contract sections 6 and 7), and what is at those paths now.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from '../../src/config/schema.js';

/** The three places an app can hold its update lock, as the container sees them. */
export const CONTAINER_LOCK_PATHS = {
  balena: '/tmp/balena/updates.lock',
  resin: '/tmp/resin/resin-updates.lock',
  data: '/data/resin-updates.lock',
} as const;
export type LockKind = keyof typeof CONTAINER_LOCK_PATHS;

/** The lock path apps use by default (BALENA_APP_LOCK_PATH), as the container sees it. */
export const BALENA_LOCK = CONTAINER_LOCK_PATHS.balena;

/** The host side of a lock path. */
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

/** Every update-lock file (anyone's) and half-made agent temp file under a dir, recursively. */
export async function lockFilesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return entries.filter((e) => /(^|\/)((resin-)?updates\.lock|\.bosun-lock-[^/]*)$/.test(e));
}

/**
 * Who holds the lock at `file`: the pid in an agent's marker, 'user' for anything else there (an
 * app's empty lock file, say), 'none' when nothing is.
 */
export async function lockHolder(file: string): Promise<number | 'user' | 'none'> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw err;
  }
  try {
    const marker = JSON.parse(text) as { holder?: string; pid?: number };
    return marker.holder === 'bosun-agent' && typeof marker.pid === 'number' ? marker.pid : 'user';
  } catch {
    return 'user'; // the app's empty (or text) lock file
  }
}

export { pathExists } from '../../src/util/fs.js';
