import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import type { LockEntry } from '../api/device-facade.js';
import { ifMissing } from '../util/fs.js';
import type { Logger } from '../util/logger.js';
import { appLockPaths, type LockLayout, type LockPath } from './paths.js';

/** The apps whose locks are asked about: their ids and every service that has or will have a container. */
export interface LockSubject {
  appUuid: string;
  appId: number;
  serviceNames: string[];
}

export interface AppLockFacts {
  /** Locks the app (or anyone but this agent) holds now. */
  userLocks: LockEntry[];
  /** The asking part of this agent holds the app's locks now. */
  agentHolds: boolean;
}

export type TakeResult =
  | { ok: true; removedUserLocks: LockEntry[] }
  | { ok: false; blockers: LockEntry[] }
  /** Another part of this agent (the apply loop, or an API action) holds the app's lock. */
  | { ok: false; busyWith: string; blockers: [] };

interface HeldLocks {
  paths: LockPath[];
  since: string;
  owner: string;
}

const AGENT_MARKER = 'bosun-agent';
const TEMP_PREFIX = '.bosun-lock-';

/**
 * The update lock protocol (contract section 7). A path locks its app whatever it is: file,
 * directory, symlink, dangling symlink (lstat, never stat). The agent takes an app's lock by
 * creating every lock path exclusively (hard-linking a prepared file, which is atomic and fails on
 * anything already there), writes a marker naming itself into them so that after a crash it knows
 * them for its own, and removes only those. A user's lock is removed only when the caller says an
 * override is in force.
 */
export class LockManager {
  private readonly held = new Map<string, HeldLocks>();
  /**
   * The marker files this manager created, by lock path: their identity (device, inode, size,
   * mtime). A lock path that still shows that identity is the very file we wrote, unchanged since
   * (a rewrite moves mtime or size; a file put in its place, even on a reused inode, was written
   * later), so inspect() knows it for ours without opening and parsing it again: reports and passes
   * look at held locks several times per update. Anything else is read as before.
   */
  private readonly ownMarkers = new Map<string, string>();

  constructor(
    private readonly layout: LockLayout,
    private readonly deviceUuid: string,
    private readonly log: Logger,
  ) {}

  /** Which part of the agent holds the app's lock ('loop', 'api'), if any. */
  holder(appUuid: string): string | undefined {
    return this.held.get(appUuid)?.owner;
  }

  /** Locks present for the app now, the agent's own excluded; agentHolds: `owner` holds it. */
  async scan(subject: LockSubject, owner?: string): Promise<AppLockFacts> {
    const userLocks: LockEntry[] = [];
    for (const lockPath of appLockPaths(this.layout, subject.appId, subject.serviceNames)) {
      const found = await this.inspect(lockPath.hostPath);
      if (found && found.holder === 'app') userLocks.push(this.entry(subject, lockPath, 'app', found.since));
    }
    return { userLocks, agentHolds: owner !== undefined && this.held.get(subject.appUuid)?.owner === owner };
  }

  /** Every lock present now (user and agent) for the given apps, for GET /v2/locks and reports. */
  async list(subjects: LockSubject[]): Promise<LockEntry[]> {
    const entries: LockEntry[] = [];
    for (const subject of subjects) {
      for (const lockPath of appLockPaths(this.layout, subject.appId, subject.serviceNames)) {
        const found = await this.inspect(lockPath.hostPath);
        if (found) entries.push(this.entry(subject, lockPath, found.holder, found.since));
      }
    }
    return entries;
  }

  /**
   * Takes every lock path of the app. With `override`, user locks in the way are removed (each
   * logged) first; without it, the first user lock found makes this release whatever it took and
   * report the blockers: never half-locked.
   */
  async take(
    subject: LockSubject,
    options: { override: boolean; reason: string; owner: string },
  ): Promise<TakeResult> {
    const current = this.held.get(subject.appUuid);
    if (current?.owner === options.owner) return { ok: true, removedUserLocks: [] };
    if (current) return { ok: false, busyWith: current.owner, blockers: [] };
    const taken: LockPath[] = [];
    const removed: LockEntry[] = [];
    const since = new Date().toISOString();
    for (const lockPath of appLockPaths(this.layout, subject.appId, subject.serviceNames)) {
      let created = await this.createExclusive(lockPath.hostPath, since);
      if (!created) {
        const found = await this.inspect(lockPath.hostPath);
        if (!found) {
          // Released between our create and our look: one more try, as an app would.
          created = await this.createExclusive(lockPath.hostPath, since);
        } else if (found.holder === 'agent') {
          // Ours from before a crash: adopt it rather than fail on our own lock.
          created = true;
        } else if (options.override) {
          await removeLockPath(lockPath.hostPath);
          const entry = this.entry(subject, lockPath, 'app', found.since);
          removed.push(entry);
          this.log.warn(
            {
              appUuid: subject.appUuid,
              service: lockPath.serviceName,
              path: lockPath.hostPath,
              reason: options.reason,
            },
            'update lock override: removed user lock',
          );
          created = await this.createExclusive(lockPath.hostPath, since);
        }
      }
      if (!created) {
        await this.removeOwn(taken);
        const blockers = (await this.scan(subject)).userLocks;
        return { ok: false, blockers };
      }
      taken.push(lockPath);
    }
    this.held.set(subject.appUuid, { paths: taken, since, owner: options.owner });
    this.log.info(
      {
        appUuid: subject.appUuid,
        owner: options.owner,
        reason: options.reason,
        paths: taken.map((p) => p.hostPath),
      },
      'update lock taken by agent',
    );
    return { ok: true, removedUserLocks: removed };
  }

  /** Releases the app's lock if `owner` holds it (a release by someone else is a no-op). */
  async release(appUuid: string, owner: string): Promise<void> {
    const held = this.held.get(appUuid);
    if (!held || held.owner !== owner) return;
    await this.removeOwn(held.paths);
    this.held.delete(appUuid);
    this.log.info({ appUuid, paths: held.paths.map((p) => p.hostPath) }, 'update lock released by agent');
  }

  async releaseAll(): Promise<void> {
    for (const [appUuid, held] of [...this.held]) await this.release(appUuid, held.owner);
  }

  /**
   * At start-up: remove lock files an earlier run of this agent left behind (it was killed while
   * holding them), and its half-made temporary files. User locks are never touched.
   */
  async removeStaleAgentLocks(): Promise<string[]> {
    const removed: string[] = [];
    const candidates: string[] = [];
    for (const appDir of await ifMissing(fs.readdir(this.layout.lockDir), [])) {
      for (const serviceDir of await ifMissing(fs.readdir(path.join(this.layout.lockDir, appDir)), [])) {
        const dir = path.join(this.layout.lockDir, appDir, serviceDir);
        for (const name of await ifMissing(fs.readdir(dir), [])) candidates.push(path.join(dir, name));
      }
    }
    const appsDir = path.join(this.layout.dataDir, 'apps');
    for (const appDir of await ifMissing(fs.readdir(appsDir), [])) {
      const dir = path.join(appsDir, appDir, 'data');
      for (const name of await ifMissing(fs.readdir(dir), [])) candidates.push(path.join(dir, name));
    }
    for (const file of candidates) {
      const base = path.basename(file);
      if (base.startsWith(TEMP_PREFIX)) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (base !== 'updates.lock' && base !== 'resin-updates.lock') continue;
      const found = await this.inspect(file);
      if (found?.holder === 'agent') {
        await fs.rm(file, { force: true });
        removed.push(file);
      }
    }
    if (removed.length)
      this.log.info({ paths: removed }, 'removed update locks left by an earlier run of the agent');
    return removed;
  }

  private entry(subject: LockSubject, lockPath: LockPath, holder: 'app' | 'agent', since: string): LockEntry {
    return {
      appUuid: subject.appUuid,
      appId: subject.appId,
      serviceName: lockPath.serviceName,
      path: lockPath.containerPath,
      hostPath: lockPath.hostPath,
      holder,
      since,
    };
  }

  /** What is at a lock path: nothing, the agent's own marker, or anything else (the app's). */
  private async inspect(hostPath: string): Promise<{ holder: 'app' | 'agent'; since: string } | undefined> {
    const stats = await ifMissing(fs.lstat(hostPath), undefined);
    if (!stats) return undefined;
    const since = lockSince(stats);
    if (stats.isFile() && this.ownMarkers.get(hostPath) === fileIdentity(stats)) {
      return { holder: 'agent', since };
    }
    if (stats.isFile() && stats.size > 0 && stats.size < 1024) {
      const marker = await this.readMarker(hostPath);
      // Removed between lstat and open (an app or the agent releasing it): no lock, not the app's.
      if (marker === 'gone') return undefined;
      if (marker === 'own') return { holder: 'agent', since };
    }
    return { holder: 'app', since };
  }

  /** Whether the file is this agent's marker; 'gone' when it vanished before it could be read. */
  private async readMarker(hostPath: string): Promise<'own' | 'other' | 'gone'> {
    let text: string;
    try {
      // O_NOFOLLOW: a symlink swapped in meanwhile is a user's lock, never followed.
      const handle = await fs.open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        text = await handle.readFile('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return 'gone';
      if (code === 'ELOOP') return 'other';
      throw err;
    }
    try {
      const marker = JSON.parse(text) as { holder?: unknown; deviceUuid?: unknown };
      return marker.holder === AGENT_MARKER && marker.deviceUuid === this.deviceUuid ? 'own' : 'other';
    } catch {
      return 'other'; // not JSON: an app wrote it, so it is the app's lock
    }
  }

  /**
   * Exclusive create with content in one atomic step: the marker is written to a temporary file
   * beside the lock, then hard-linked to the lock path. link(2) fails with EEXIST on anything at
   * the path (even a dangling symlink), exactly like the O_EXCL create apps use, and a crash
   * never leaves an empty lock file that would look like a user's.
   */
  private async createExclusive(hostPath: string, since: string): Promise<boolean> {
    const dir = path.dirname(hostPath);
    await fs.mkdir(dir, { recursive: true });
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const marker = JSON.stringify({
      holder: AGENT_MARKER,
      deviceUuid: this.deviceUuid,
      pid: process.pid,
      since,
    });
    let identity: string;
    const handle = await fs.open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(marker);
      identity = fileIdentity(await handle.stat());
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, hostPath);
      this.ownMarkers.set(hostPath, identity);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await fs.rm(temp, { force: true });
    }
  }

  private async removeOwn(paths: LockPath[]): Promise<void> {
    for (const lockPath of paths) {
      // Forget the remembered identity first: before deleting anything the marker is read again,
      // so a file that is not ours, however alike, is never removed.
      this.ownMarkers.delete(lockPath.hostPath);
      const found = await this.inspect(lockPath.hostPath);
      if (found?.holder === 'agent') await fs.rm(lockPath.hostPath, { force: true });
    }
  }
}

/** Removes whatever is at a lock path without following it: a symlink goes, not its target. */
async function removeLockPath(hostPath: string): Promise<void> {
  const stats = await ifMissing(fs.lstat(hostPath), undefined);
  if (!stats) return;
  if (stats.isDirectory()) await fs.rm(hostPath, { recursive: true, force: true });
  else await fs.unlink(hostPath);
}

/** Which file this is and whether its content changed: a write moves mtime (and size). */
function fileIdentity(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

function lockSince(stats: Stats): string {
  const birth = stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.mtimeMs;
  return new Date(Math.min(birth, stats.mtimeMs)).toISOString();
}
