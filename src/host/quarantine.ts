import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { ifMissing, pathExists } from '../util/fs.js';
import type { Logger } from '../util/logger.js';
import { ensureTrustedDir } from './trusted-dirs.js';

const run = promisify(execFile);

/** Name of the root-only trash directory inside each base (never a valid app id or /data entry). */
export const TRASH_DIR_NAME = '.bosun-trash';
/** How long after a directory was moved aside its clean-up starts (off the override's path). */
const CLEANUP_DELAY_MS = 1_000;
/** A clean-up that takes longer is stopped; what is left goes at the next start. */
const EMPTY_TIMEOUT_MS = 120_000;

/**
 * Removes what an app made (a lock that is a directory tree, a hand-over marker, the contents of
 * its /data) without ever walking it where the app can reach it. Walking an app's tree by path as
 * root is how a lock override deleted host files: the app swaps a directory it made for a symlink
 * to a host directory while the walk is inside it, and the walk follows.
 *
 * So the entry is first renamed, in one atomic step that follows no link, into a trash directory
 * only root can reach, on the same file system (a trash under each base the agent writes in: the
 * lock dir and the data dir). Only that private copy is then deleted, by GNU `rm` in the background:
 * it walks with openat(2) and O_NOFOLLOW and checks each directory's device and inode as it enters
 * it (fts, FTS_PHYSICAL), and `--one-file-system` keeps it off any mount, so even an app that kept
 * a descriptor open inside the moved tree and plants links there cannot steer it out of the tree.
 */
export class Quarantine {
  private cleanup: Promise<void> = Promise.resolve();
  private cleanupQueued = false;
  private readonly trashDirs = new Map<string, string>();

  /** `bases`: the directories (trusted, checked at start) under which app-made entries live. */
  constructor(
    private readonly bases: string[],
    private readonly log: Logger,
  ) {}

  /**
   * Moves whatever is at `hostPath` (file, directory tree, symlink, fifo) out of the app's reach.
   * False when nothing was there. The private copy is deleted in the background.
   */
  async moveAside(hostPath: string): Promise<boolean> {
    const trash = await this.trashFor(hostPath);
    const destination = path.join(trash, `${Date.now()}-${randomBytes(6).toString('hex')}`);
    try {
      await fs.rename(hostPath, destination);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!(await pathExists(hostPath))) return false;
      // The entry is there, so the trash is not (removed by hand): make it again, once.
      this.trashDirs.clear();
      await fs.rename(hostPath, path.join(await this.trashFor(hostPath), path.basename(destination)));
    }
    // A file, link or fifo has nothing to walk: it goes at once. Only a directory tree waits for
    // the background clean-up, a moment later, so spawning `rm` never delays the kill that an
    // override is making way for.
    const moved = await fs.lstat(destination);
    if (moved.isDirectory()) this.emptySoon(CLEANUP_DELAY_MS);
    else await fs.unlink(destination);
    return true;
  }

  /** Deletes everything in the trash directories (at start-up: what a crash or a time-out left). */
  emptySoon(delayMs = 0): void {
    if (this.cleanupQueued) return;
    this.cleanupQueued = true;
    this.cleanup = this.cleanup.then(async () => {
      if (delayMs > 0) await sleep(delayMs);
      this.cleanupQueued = false;
      for (const base of this.bases) await this.emptyTrash(path.join(base, TRASH_DIR_NAME));
    });
  }

  /** Resolves once the clean-up asked for so far has run (tests, shutdown). */
  settled(): Promise<void> {
    return this.cleanup;
  }

  private async trashFor(hostPath: string): Promise<string> {
    const base = this.bases.find((b) => hostPath.startsWith(b + path.sep));
    if (base === undefined) throw new Error(`${hostPath} is under none of the agent's directories`);
    // Made and checked once: root's, 0700, under a trusted base, so nobody else can replace it.
    let trash = this.trashDirs.get(base);
    if (trash === undefined) {
      trash = await ensureTrustedDir(base, [TRASH_DIR_NAME], { mode: 0o700 });
      this.trashDirs.set(base, trash);
    }
    return trash;
  }

  private async emptyTrash(trash: string): Promise<void> {
    const entries = await ifMissing(fs.readdir(trash), []);
    if (entries.length === 0) return;
    const targets = entries.map((name) => path.join(trash, name));
    try {
      await run('rm', ['-rf', '--one-file-system', '--', ...targets], { timeout: EMPTY_TIMEOUT_MS });
    } catch (err) {
      // Left for the next start; nothing outside the trash is at stake.
      this.log.warn(
        { err, trash },
        'could not empty the trash of removed app files; will retry at next start',
      );
    }
  }
}
