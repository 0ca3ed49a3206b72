import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Quarantine, TRASH_DIR_NAME } from '../../../src/host/quarantine.js';
import { ensureTrustedBase } from '../../../src/host/trusted-dirs.js';
import { silentLogger } from '../../../src/util/logger.js';

let root: string;
let base: string;
let victim: string;
let quarantine: Quarantine;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-quarantine-'));
  base = await ensureTrustedBase(path.join(root, 'locks'), 0o755);
  victim = path.join(root, 'host-files');
  await fs.mkdir(victim);
  for (const name of ['passwd', 'shadow', 'keep']) await fs.writeFile(path.join(victim, name), name);
  quarantine = new Quarantine([base], silentLogger());
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** An app's lock that is a directory tree, with links to host files planted inside. */
async function hostileTree(at: string): Promise<void> {
  await fs.mkdir(path.join(at, 'a', 'b', 'c'), { recursive: true });
  await fs.writeFile(path.join(at, 'a', 'b', 'c', 'file'), 'x');
  await fs.symlink(victim, path.join(at, 'a', 'to-host-dir'));
  await fs.symlink(path.join(victim, 'passwd'), path.join(at, 'a', 'b', 'to-host-file'));
}

describe('host/quarantine: removing what an app made', () => {
  it('moves a directory tree out of the app dir at once, then deletes it without following links', async () => {
    const lock = path.join(base, '7', 'main', 'updates.lock');
    await hostileTree(lock);
    expect(await quarantine.moveAside(lock)).toBe(true);
    // Gone from where the app can reach it, in one step.
    await expect(fs.lstat(lock)).rejects.toMatchObject({ code: 'ENOENT' });
    await quarantine.settled();
    expect(await fs.readdir(path.join(base, TRASH_DIR_NAME))).toEqual([]);
    expect((await fs.readdir(victim)).sort()).toEqual(['keep', 'passwd', 'shadow']);
  });

  it('keeps the trash root-only and removes a file and a symlink alike', async () => {
    const dir = path.join(base, '7', 'main');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'file'), '');
    await fs.symlink(victim, path.join(dir, 'link'));
    for (const name of ['file', 'link']) expect(await quarantine.moveAside(path.join(dir, name))).toBe(true);
    expect((await fs.stat(path.join(base, TRASH_DIR_NAME))).mode & 0o777).toBe(0o700);
    await quarantine.settled();
    expect(await fs.readdir(dir)).toEqual([]);
    expect((await fs.readdir(victim)).length).toBe(3);
  });

  it('answers false for nothing there, and refuses a path outside its bases', async () => {
    expect(await quarantine.moveAside(path.join(base, 'nothing'))).toBe(false);
    await expect(quarantine.moveAside(path.join(victim, 'passwd'))).rejects.toThrow(/none of the agent's/);
    expect((await fs.readdir(victim)).length).toBe(3);
  });

  it('empties a trash left by a crash when asked at start-up', async () => {
    const left = path.join(base, TRASH_DIR_NAME, 'left-by-crash');
    await hostileTree(left);
    quarantine.emptySoon();
    await quarantine.settled();
    expect(await fs.readdir(path.join(base, TRASH_DIR_NAME))).toEqual([]);
    expect((await fs.readdir(victim)).length).toBe(3);
  });
});
