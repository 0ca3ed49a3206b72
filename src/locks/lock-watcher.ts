import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../util/logger.js';

/**
 * Tells the reconcile loop the moment something changes in a lock directory, so a released lock
 * resumes the update at once instead of after a backoff. fs.watch can miss events (and does not
 * exist for dirs created later), so the loop also re-checks on a slow fallback poll; this is only
 * the fast path.
 */
export class LockWatcher {
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly onChange: (dir: string) => void,
    private readonly log: Logger,
    private readonly enabled = true,
  ) {}

  /** Whether lock dirs are watched at all (config lockWatch); off, the loop's fallback poll alone sees a release. */
  get watching(): boolean {
    return this.enabled;
  }

  /** Whether `dir` is watched now (it existed, and was checked, when the watch began). */
  isWatching(dir: string): boolean {
    return this.watchers.has(dir);
  }

  /** Watch exactly these (existing) directories, dropping watches on any others. */
  async watchDirs(dirs: Iterable<string>): Promise<void> {
    if (!this.enabled) return;
    const wanted = new Set(dirs);
    for (const [dir, watcher] of this.watchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = watch(dir, { persistent: false }, () => this.onChange(dir));
        watcher.on('error', (err) => {
          this.log.warn({ dir, err }, 'lock dir watch failed; relying on the fallback poll');
          watcher.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, watcher);
      } catch (err) {
        this.log.warn({ dir, err }, 'cannot watch lock dir; relying on the fallback poll');
      }
    }
  }

  close(): void {
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }
}
