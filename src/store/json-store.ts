import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ifMissing } from '../util/fs.js';
import type { Logger } from '../util/logger.js';

/**
 * Names this process's temporary files (pid for a reader, random because a pid comes back: PID 1
 * in a container on every start). Immutable: a fact about the process, not state.
 */
const PROCESS_TAG = `${process.pid}-${randomBytes(4).toString('hex')}`;
/** `<doc>.json.tmp-<tag>`: never a document, which ends in `.json`. Also matches older `.tmp-<pid>`. */
const TEMP = /\.json\.tmp-([0-9a-f-]+)$/;

/**
 * Crash-safe JSON documents in one directory. Invariants:
 *
 * - A write serialises the value when it is called, writes it to a temporary file of its own
 *   (`<doc>.tmp-<pid>-<process tag>-<random>`, created exclusively), fsyncs it, renames it over the
 *   document and fsyncs the directory: a power cut leaves the old or the new document, never a
 *   torn one. A failed write removes its temporary file and rejects to its caller. (`writeCache`
 *   skips the fsyncs, for documents that may be lost.)
 * - Operations on one key (read, write, delete) run one at a time in call order, so the last write
 *   called is the last on disk; a failed one does not stop the ones queued behind it. Different
 *   keys do not wait for each other.
 * - On first use, temporary files of other processes (left by a crash: the agent holds a
 *   single-instance lock on its data dir) are removed; this process's own, another store on the
 *   same dir included, are left alone. Reads only ever open `<key>.json`, so a left-over
 *   temporary file never shadows a document.
 * - A document that fails to parse is moved aside (never silently dropped) and reported; the
 *   caller then starts from nothing for that key.
 */
export class JsonStore {
  private readonly queues = new Map<string, Promise<void>>();
  private swept?: Promise<void>;

  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  async read<T>(name: string): Promise<T | undefined> {
    const file = this.fileFor(name);
    return this.inOrder(name, async () => {
      const text = await ifMissing(fs.readFile(file, 'utf8'), undefined);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as T;
      } catch (err) {
        const aside = `${file}.corrupt-${Date.now()}`;
        await fs.rename(file, aside);
        this.log?.error({ file, movedTo: aside, err }, 'stored document failed to parse; moved aside');
        return undefined;
      }
    });
  }

  /**
   * Throws when the value cannot be serialised (a cycle, a BigInt, nesting deep enough to
   * overflow the stack) or written; the stored document is then the old one, and no temporary
   * file is left behind.
   */
  async write(name: string, value: unknown, mode = 0o600): Promise<void> {
    return this.replace(name, value, mode, true);
  }

  /**
   * Like `write` (atomic: the old document or the new one), without the two fsyncs. For documents
   * whose loss costs only a resend or a refetch: the report the cloud acknowledged, where the
   * container logs were shipped to, the target's ETag. After a power cut such a document may be
   * the old one, or missing, or (rarely, on file systems that do not order a rename after its
   * data) empty: `read` then moves it aside and the caller starts from nothing, which for these
   * means one full report, a few log lines twice, one full target download. On flash storage the
   * fsyncs are most of a write's cost and wear, and these documents change on every update.
   */
  async writeCache(name: string, value: unknown): Promise<void> {
    return this.replace(name, value, 0o600, false);
  }

  private async replace(name: string, value: unknown, mode: number, durable: boolean): Promise<void> {
    const file = this.fileFor(name);
    // Now, not when its turn comes: the caller may change the value meanwhile, and one that cannot
    // be serialised leaves no trace.
    const text = JSON.stringify(value);
    return this.inOrder(name, async () => {
      const tmp = `${file}.tmp-${PROCESS_TAG}-${randomBytes(6).toString('hex')}`;
      let created = false;
      try {
        const handle = await this.createFile(tmp, mode);
        created = true;
        try {
          await handle.writeFile(text);
          if (durable) await handle.sync();
        } finally {
          await handle.close();
        }
        await fs.rename(tmp, file);
      } catch (err) {
        if (created) await fs.rm(tmp, { force: true });
        throw err;
      }
      if (durable) await syncDir(this.dir);
    });
  }

  /**
   * Creates a new file in the store's dir, making the dir when it is missing (the first write, or
   * someone removed it): on every write a mkdir would be a wasted syscall, and the reconcile loop
   * writes on most passes that change something.
   */
  private async createFile(file: string, mode: number): Promise<fs.FileHandle> {
    try {
      return await fs.open(file, 'wx', mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      return fs.open(file, 'wx', mode);
    }
  }

  /**
   * The copies of a document that `read` moved aside because they failed to parse, newest first,
   * with their text: what is left to recover from when a document must not be lost.
   */
  async corruptCopies(name: string): Promise<Array<{ file: string; text: string }>> {
    const prefix = `${path.basename(this.fileFor(name))}.corrupt-`;
    const names = await ifMissing(fs.readdir(this.dir), []);
    const copies = names
      .filter((entry) => entry.startsWith(prefix) && /^\d+$/.test(entry.slice(prefix.length)))
      .sort((a, b) => Number(b.slice(prefix.length)) - Number(a.slice(prefix.length)));
    const out: Array<{ file: string; text: string }> = [];
    for (const entry of copies) {
      const file = path.join(this.dir, entry);
      const text = await ifMissing(fs.readFile(file, 'utf8'), undefined);
      if (text !== undefined) out.push({ file, text });
    }
    return out;
  }

  async delete(name: string): Promise<void> {
    const file = this.fileFor(name);
    return this.inOrder(name, () => fs.rm(file, { force: true }));
  }

  /** Runs `op` after every operation on `name` called before it has settled, whatever its outcome. */
  private inOrder<T>(name: string, op: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? (this.swept ??= this.sweep());
    const result = previous.then(op);
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(name, settled);
    void settled.then(() => {
      if (this.queues.get(name) === settled) this.queues.delete(name);
    });
    return result;
  }

  /** Removes other processes' temporary files. Best effort: never rejects. */
  private async sweep(): Promise<void> {
    const names = await ifMissing(fs.readdir(this.dir), []).catch((err: unknown) => {
      this.log?.warn({ dir: this.dir, err }, 'could not list the store for temporary files left by a crash');
      return [];
    });
    for (const entry of names) {
      const tag = TEMP.exec(entry)?.[1];
      if (tag === undefined || tag.startsWith(`${PROCESS_TAG}-`)) continue;
      const file = path.join(this.dir, entry);
      try {
        await fs.rm(file, { force: true });
        this.log?.warn({ file }, 'removed a temporary file left by a crash');
      } catch (err) {
        this.log?.warn({ file, err }, 'could not remove a temporary file left by a crash');
      }
    }
  }

  private fileFor(name: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`invalid store key: ${name}`);
    return path.join(this.dir, `${name}.json`);
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
