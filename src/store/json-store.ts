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

  async write(name: string, value: unknown, mode = 0o600): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const file = this.fileFor(name);
    const tmp = `${file}.tmp-${process.pid}`;
    const handle = await fs.open(tmp, 'w', mode);
    try {
      await handle.writeFile(JSON.stringify(value));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
    await syncDir(this.dir);
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
