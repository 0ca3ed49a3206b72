import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  checkTrustedBase,
  ensureTrustedBase,
  ensureTrustedDir,
  UnsafePathError,
} from '../../../src/host/trusted-dirs.js';
import { ensureServiceLockDir } from '../../../src/locks/paths.js';

/** A uid that is neither root nor the test's own: a local user. */
const LOCAL_USER = 1000;

let root: string;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-trusted-'));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

describe('host/trusted-dirs: the bases the agent writes under', () => {
  it('creates a missing base (and its missing parents) and returns its path', async () => {
    const base = path.join(root, 'run', 'bosun', 'services');
    expect(await ensureTrustedBase(base, 0o755)).toBe(base);
    expect((await fs.lstat(base)).isDirectory()).toBe(true);
    expect((await fs.stat(base)).mode & 0o022).toBe(0);
  });

  it('accepts a sticky world-writable ancestor (/tmp), but not a base that others may write', async () => {
    const shared = path.join(root, 'tmp');
    await fs.mkdir(shared);
    await fs.chmod(shared, 0o1777);
    await expect(ensureTrustedBase(path.join(shared, 'bosun', 'services'), 0o755)).resolves.toBeDefined();
    await expect(checkTrustedBase(shared)).rejects.toThrow(/writable by group or others \(mode 1777\)/);
  });

  it('refuses a base under a directory a local user owns (they could swap what is inside)', async () => {
    // The attack: a local user pre-creates /tmp/bosun before the agent's first start.
    const planted = path.join(root, 'bosun');
    await fs.mkdir(planted);
    await fs.chown(planted, LOCAL_USER, LOCAL_USER);
    const err = await ensureTrustedBase(path.join(planted, 'services'), 0o755).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafePathError);
    expect((err as Error).message).toBe(
      `refusing to use ${path.join(planted, 'services')}: ${planted} is owned by uid ${LOCAL_USER}, not root`,
    );
    expect(await fs.readdir(planted)).toEqual([]); // nothing created in it
  });

  it("refuses a base reached through a local user's symlink, and follows root's own", async () => {
    const rootOnly = path.join(root, 'root-only');
    await fs.mkdir(rootOnly, { mode: 0o700 });
    const evil = path.join(root, 'evil-link');
    await fs.symlink(rootOnly, evil);
    await fs.lchown(evil, LOCAL_USER, LOCAL_USER);
    await expect(checkTrustedBase(path.join(evil, 'services'))).rejects.toThrow(
      /evil-link is a symlink owned by uid 1000/,
    );
    const good = path.join(root, 'good-link');
    await fs.symlink(rootOnly, good);
    expect(await checkTrustedBase(path.join(good, 'services'))).toBe(path.join(rootOnly, 'services'));
  });
});

describe('host/trusted-dirs: the dirs the agent creates and mounts under a base', () => {
  it('refuses a symlink planted where a service lock dir goes, and leaves its target alone', async () => {
    const layout = { lockDir: path.join(root, 'locks'), dataDir: path.join(root, 'data') };
    await ensureTrustedBase(layout.lockDir, 0o755);
    const secret = path.join(root, 'secret');
    await fs.mkdir(secret, { mode: 0o700 });
    await fs.mkdir(path.join(layout.lockDir, '7'));
    await fs.symlink(secret, path.join(layout.lockDir, '7', 'main'));
    await expect(ensureServiceLockDir(layout, 7, 'main')).rejects.toThrow(
      `refusing to use ${path.join(layout.lockDir, '7', 'main')}: it is a symlink`,
    );
    expect(await fs.readdir(secret)).toEqual([]);
  });

  it('refuses an intermediate dir that others may write, but lets the app own its last dir', async () => {
    const base = await ensureTrustedBase(path.join(root, 'locks'), 0o755);
    const made = await ensureTrustedDir(base, ['7', 'main'], { mode: 0o755, appOwnsLast: true });
    // An app may chown its own /tmp/balena (or /data) for a non-root user inside the container.
    await fs.chown(made, LOCAL_USER, LOCAL_USER);
    await fs.chmod(made, 0o777);
    await expect(ensureTrustedDir(base, ['7', 'main'], { mode: 0o755, appOwnsLast: true })).resolves.toBe(
      made,
    );
    await fs.chmod(path.join(base, '7'), 0o777);
    await expect(ensureTrustedDir(base, ['7', 'main'], { mode: 0o755, appOwnsLast: true })).rejects.toThrow(
      /7: it is writable by group or others/,
    );
  });

  it.each(['..', '.', '', 'a/b', 'a\0b'])('refuses the segment %j', async (segment) => {
    const base = await ensureTrustedBase(path.join(root, 'locks'), 0o755);
    await expect(ensureTrustedDir(base, ['7', segment], { mode: 0o755 })).rejects.toThrow(UnsafePathError);
  });
});
