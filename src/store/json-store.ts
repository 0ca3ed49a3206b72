import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ifMissing } from '../util/fs.js';
import type { Logger } from '../util/logger.js';

/**
 * Crash-safe JSON documents in one directory. A write goes to a temporary file, is fsynced,
 * renamed over the old one and the directory fsynced, so a power cut leaves either the old or the
 * new document, never a torn one. A document that fails to parse is moved aside (never silently
 * dropped) and reported; the caller then starts from nothing for that key.
 */
export class JsonStore {
  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {}

  async read<T>(name: string): Promise<T | undefined> {
    const file = this.fileFor(name);
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
  }

  /**
   * Throws when the value cannot be serialised (a cycle, a BigInt, nesting deep enough to
   * overflow the stack) or written; the stored document is then the old one, and no temporary
   * file is left behind.
   */
  async write(name: string, value: unknown, mode = 0o600): Promise<void> {
    const file = this.fileFor(name);
    // Serialised before anything touches the disk, so a value that cannot be leaves no trace.
    const text = JSON.stringify(value);
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      const handle = await fs.open(tmp, 'w', mode);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await syncDir(this.dir);
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
    await fs.rm(this.fileFor(name), { force: true });
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
