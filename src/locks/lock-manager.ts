import { randomBytes } from 'node:crypto';
import { constants, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ifMissing } from '../util/fs.js';
import { Quarantine } from '../host/quarantine.js';
import type { Logger } from '../util/logger.js';
import {
  appLockPaths,
  ensureAppDataDir,
  ensureServiceLockDir,
  type LockLayout,
  type LockPath,
} from './paths.js';

/** A lock present now, as GET /v2/locks and the state report show it. */
export interface LockEntry {
  appUuid: string;
  appId: number;
  /** Service whose lock dir holds it; undefined for the app's /data lock. */
  serviceName?: string;
  /** Path as the app sees it inside its container, e.g. /tmp/balena/updates.lock. */
  path: string;
  hostPath: string;
  holder: 'app' | 'agent';
  /** ISO time the lock was first seen (or taken, for the agent's). */
  since: string;
  /** ISO time a lock deadline overrides this user lock (contract section 10), when one applies. */
  deadline?: string;
}

/** The apps whose locks are asked about: their ids and every service that has or will have a container. */
export interface LockSubject {
  appUuid: string;
  appId: number;
  serviceNames: string[];
}

export interface AppLockFacts {
  /** Locks the app (or anyone but this agent) holds now. */
  userLocks: LockEntry[];
  /** This agent holds the app's locks now. */
  agentHolds: boolean;
}

export type TakeResult = { ok: true; removedUserLocks: LockEntry[] } | { ok: false; blockers: LockEntry[] };

interface HeldLocks {
  appId: number;
  paths: LockPath[];
  since: string;
}

const AGENT_MARKER = 'bosun-agent';
/** How every marker (and temp file) the agent writes starts: JSON.stringify puts holder first. */
const MARKER_START = `{"holder":"${AGENT_MARKER}"`;
const TEMP_PREFIX = '.bosun-lock-';
/** The agent's marker is a short JSON object; anything larger is the app's. */
const MAX_MARKER_BYTES = 1024;

/**
 * The update lock protocol (contract section 7). A path locks its app whatever it is: file,
 * directory, symlink, dangling symlink (lstat, never stat). The agent takes an app's lock by
 * creating every lock path exclusively (hard-linking a prepared file, which is atomic and fails on
 * anything already there), writes a marker naming itself into them so that after a crash it knows
 * them for its own, and removes only those. A user's lock is removed only when the caller says an
 * override is in force, and then moved out of the app's reach before it is deleted (Quarantine).
 *
 * Only the reconcile loop takes and releases locks (API actions are intents it carries out), so
 * there is one holder per app: an API action on an app whose lock the loop holds for an update
 * runs under that same lock, and nothing else can release it midway. Marker files are never
 * empty (a crash cannot leave one that looks like a user's lock), and the marker names the
 * device uuid, so agents sharing a lock dir never take each other's for their own.
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
    private readonly quarantine = new Quarantine([layout.lockDir, layout.dataDir], log),
  ) {}

  /** Whether the agent holds the app's lock now. */
  holds(appUuid: string): boolean {
    return this.held.has(appUuid);
  }

  /** The lock entries the agent holds now, from memory (no file is read). */
  heldEntries(): LockEntry[] {
    return [...this.held].flatMap(([appUuid, held]) =>
      held.paths.map((p) =>
        this.entry({ appUuid, appId: held.appId, serviceNames: [] }, p, 'agent', held.since),
      ),
    );
  }

  /** Locks present for the app now, the agent's own excluded; agentHolds: the agent holds it. */
  async scan(subject: LockSubject): Promise<AppLockFacts> {
    const userLocks: LockEntry[] = [];
    for (const lockPath of appLockPaths(this.layout, subject.appId, subject.serviceNames)) {
      const found = await this.inspect(lockPath.hostPath);
      if (found && found.holder === 'app') userLocks.push(this.entry(subject, lockPath, 'app', found.since));
    }
    return { userLocks, agentHolds: this.held.has(subject.appUuid) };
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
  async take(subject: LockSubject, options: { override: boolean; reason: string }): Promise<TakeResult> {
    if (this.held.has(subject.appUuid)) return { ok: true, removedUserLocks: [] };
    const taken: LockPath[] = [];
    const removed: LockEntry[] = [];
    const since = new Date().toISOString();
    for (const lockPath of appLockPaths(this.layout, subject.appId, subject.serviceNames)) {
      await this.ensureDirOf(subject.appId, lockPath);
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
          // Moved out of the app's reach in one rename, never walked where the app can swap it.
          await this.quarantine.moveAside(lockPath.hostPath);
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
    this.held.set(subject.appUuid, { appId: subject.appId, paths: taken, since });
    this.log.info(
      {
        appUuid: subject.appUuid,
        reason: options.reason,
        paths: taken.map((p) => p.hostPath),
      },
      'update lock taken by agent',
    );
    return { ok: true, removedUserLocks: removed };
  }

  /** Releases the app's lock if the agent holds it. */
  async release(appUuid: string): Promise<void> {
    const held = this.held.get(appUuid);
    if (!held) return;
    await this.removeOwn(held.paths);
    this.held.delete(appUuid);
    this.log.info({ appUuid, paths: held.paths.map((p) => p.hostPath) }, 'update lock released by agent');
  }

  async releaseAll(): Promise<void> {
    for (const appUuid of [...this.held.keys()]) await this.release(appUuid);
  }

  /**
   * At start-up: remove lock files an earlier run of this agent left behind (it was killed while
   * holding them), and its half-made temporary files. Only regular files that hold this agent's
   * marker go; anything else an app made under those names (a directory, a link, a fifo) is logged
   * and left alone: nothing an app creates may stop start-up. User locks are never touched.
   */
  async removeStaleAgentLocks(): Promise<string[]> {
    const removed: string[] = [];
    for (const file of await this.appEntries()) {
      const base = path.basename(file);
      const isTemp = base.startsWith(TEMP_PREFIX);
      if (!isTemp && base !== 'updates.lock' && base !== 'resin-updates.lock') continue;
      try {
        const content = await readSmallRegularFile(file);
        if (content === 'gone') continue;
        const ours = isTemp ? content !== undefined && isMarkerPrefix(content) : this.isOwnMarker(content);
        if (ours) {
          await fs.unlink(file);
          if (!isTemp) removed.push(file);
        } else if (isTemp) {
          this.log.warn({ path: file }, "not the agent's own temporary lock file; left alone");
        }
        // A lock that is not ours is the app's: left alone, as always.
      } catch (err) {
        this.log.warn({ path: file, err }, 'could not check a lock path at start-up; left alone');
      }
    }
    if (removed.length)
      this.log.info({ paths: removed }, 'removed update locks left by an earlier run of the agent');
    return removed;
  }

  /** Every entry in the apps' lock dirs and /data dirs (the dirs themselves are the agent's). */
  private async appEntries(): Promise<string[]> {
    const dirs: string[] = [];
    for (const appDir of await agentDirs(this.layout.lockDir)) dirs.push(...(await agentDirs(appDir)));
    for (const appDir of await agentDirs(path.join(this.layout.dataDir, 'apps'))) {
      dirs.push(path.join(appDir, 'data'));
    }
    const entries: string[] = [];
    for (const dir of dirs) {
      for (const name of await ifMissing(fs.readdir(dir), [])) entries.push(path.join(dir, name));
    }
    return entries;
  }

  private async ensureDirOf(appId: number, lockPath: LockPath): Promise<void> {
    if (lockPath.serviceName === undefined) await ensureAppDataDir(this.layout, appId);
    else await ensureServiceLockDir(this.layout, appId, lockPath.serviceName);
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
    if (stats.isFile() && stats.size > 0 && stats.size < MAX_MARKER_BYTES) {
      const marker = await this.readMarker(hostPath);
      // Removed between lstat and open (an app or the agent releasing it): no lock, not the app's.
      if (marker === 'gone') return undefined;
      if (marker === 'own') return { holder: 'agent', since };
    }
    return { holder: 'app', since };
  }

  /** Whether the file is this agent's marker; 'gone' when it vanished before it could be read. */
  private async readMarker(hostPath: string): Promise<'own' | 'other' | 'gone'> {
    const content = await readSmallRegularFile(hostPath);
    if (content === 'gone') return 'gone';
    return this.isOwnMarker(content) ? 'own' : 'other';
  }

  private isOwnMarker(content: string | undefined): boolean {
    if (content === undefined) return false;
    try {
      const marker = JSON.parse(content) as { holder?: unknown; deviceUuid?: unknown };
      return marker.holder === AGENT_MARKER && marker.deviceUuid === this.deviceUuid;
    } catch {
      return false; // not JSON: an app wrote it, so it is the app's lock
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

/**
 * The text of a small regular file an app can reach, read without following a link (O_NOFOLLOW)
 * and without blocking on a fifo swapped in (O_NONBLOCK). Undefined for anything else (a link, a
 * directory, a fifo, a socket, a large file); 'gone' when nothing is there.
 */
async function readSmallRegularFile(hostPath: string): Promise<string | undefined | 'gone'> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'gone';
    if (code === 'ELOOP' || code === 'ENXIO') return undefined;
    throw err;
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile() || stats.size >= MAX_MARKER_BYTES) return undefined;
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** A temp file the agent was killed while writing holds its marker, or the start of it. */
function isMarkerPrefix(text: string): boolean {
  return MARKER_START.startsWith(text) || text.startsWith(MARKER_START);
}

/** Which file this is and whether its content changed: a write moves mtime (and size). */
function fileIdentity(stats: Stats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}

function lockSince(stats: Stats): string {
  const birth = stats.birthtimeMs > 0 ? stats.birthtimeMs : stats.mtimeMs;
  return new Date(Math.min(birth, stats.mtimeMs)).toISOString();
}

/**
 * The directories in `dir` the agent made (app ids, service names): real directories only. Under
 * a trusted base nobody but root can add entries here, but a stray file or link is skipped, never
 * followed.
 */
async function agentDirs(dir: string): Promise<string[]> {
  const entries = await ifMissing(fs.readdir(dir, { withFileTypes: true }), []);
  return entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => path.join(dir, e.name));
}
