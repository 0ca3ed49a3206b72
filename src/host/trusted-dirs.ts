import { promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../util/errors.js';
import { ifMissing, pathExists } from '../util/fs.js';

/**
 * A directory the agent creates or bind-mounts cannot be trusted: a local user could have made it
 * (or a component on the way) a symlink to a root-only directory, or could still replace it. The
 * message names the path and what is wrong; the agent refuses to use it.
 */
export class UnsafePathError extends ConfigError {
  override name = 'UnsafePathError';
  constructor(dir: string, problem: string) {
    super(`refusing to use ${dir}: ${problem}`);
  }
}

/** Sticky, group- and world-write bits of st_mode. */
const STICKY = 0o1000;
const WRITABLE_BY_OTHERS = 0o022;
/** How many root-owned symlinks on the way are followed before giving up (a loop). */
const MAX_LINKS = 16;

/** The owners a trusted directory may have: root, or the user the agent runs as. */
function trustedOwner(stats: Stats): boolean {
  return stats.uid === 0 || stats.uid === process.geteuid?.();
}

/**
 * Checks that nobody but root (or the agent's own user) can change what `dir` names, before the
 * agent creates anything under it. Every existing ancestor must be a directory owned by root and
 * not writable by others, unless it is sticky (`/tmp`: others may write there but cannot rename or
 * delete what root made); a symlink on the way is followed only when root owns it (`/var/run` ->
 * `/run`). `dir` itself, when it exists, must be a real directory of a trusted owner that only its
 * owner can write. Missing components are fine: ensureTrustedDir creates them.
 *
 * Returns the real path of `dir` (symlinks of trusted owners resolved), which is what the agent
 * then uses, so a later change of those links changes nothing.
 */
export async function checkTrustedBase(dir: string): Promise<string> {
  let parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let current: string = path.sep;
  let links = 0;
  while (parts.length > 0) {
    const next = path.join(current, parts[0]);
    const stats = await ifMissing(fs.lstat(next), undefined);
    if (stats === undefined) return path.join(current, ...parts);
    const isLast = parts.length === 1;
    if (stats.isSymbolicLink()) {
      if (!trustedOwner(stats))
        throw new UnsafePathError(dir, `${next} is a symlink owned by uid ${stats.uid}`);
      if (++links > MAX_LINKS) throw new UnsafePathError(dir, `too many symlinks on the way at ${next}`);
      // Restart from the link's target: every component of it is checked the same way.
      const target = path.resolve(current, await fs.readlink(next));
      parts = [...target.split(path.sep).filter(Boolean), ...parts.slice(1)];
      current = path.sep;
      continue;
    }
    if (!stats.isDirectory()) throw new UnsafePathError(dir, `${next} is not a directory`);
    if (!trustedOwner(stats))
      throw new UnsafePathError(dir, `${next} is owned by uid ${stats.uid}, not root`);
    const othersMayWrite = (stats.mode & WRITABLE_BY_OTHERS) !== 0;
    if (othersMayWrite && (isLast || (stats.mode & STICKY) === 0)) {
      throw new UnsafePathError(dir, `${next} is writable by group or others (mode ${modeString(stats)})`);
    }
    current = next;
    parts = parts.slice(1);
  }
  return current;
}

export interface EnsureOptions {
  /** Mode of the directories created (the umask still applies). */
  mode: number;
  /**
   * The last directory is a bind-mount source an app owns the inside of: the app may chmod or
   * chown it (`chown -R 1000 /data` is common), so only its kind is checked there. It cannot be
   * replaced by anyone but root, since its parent is trusted.
   */
  appOwnsLast?: boolean;
}

/**
 * Creates `base/segments...` one component at a time, never following a symlink, and checks each:
 * a real directory, of a trusted owner, writable by nobody else (see `appOwnsLast`). `base` must
 * have passed checkTrustedBase. Segments are single names (an app id, a service name): a separator,
 * `.` or `..` in one is refused. Returns the path.
 */
export async function ensureTrustedDir(
  base: string,
  segments: string[],
  options: EnsureOptions,
): Promise<string> {
  let current = base;
  await ensureOneDir(current, options.mode, false);
  segments.forEach((segment) => checkSegment(base, segment));
  for (const [index, segment] of segments.entries()) {
    current = path.join(current, segment);
    await ensureOneDir(current, options.mode, options.appOwnsLast === true && index === segments.length - 1);
  }
  return current;
}

/**
 * checkTrustedBase, then creates what is missing of `dir` (each new component checked as it is
 * made). Returns the real path to use from then on.
 */
export async function ensureTrustedBase(dir: string, mode: number): Promise<string> {
  const real = await checkTrustedBase(dir);
  const missing: string[] = [];
  let existing = real;
  while (!(await pathExists(existing))) {
    missing.unshift(path.basename(existing));
    existing = path.dirname(existing);
  }
  for (const name of missing) {
    existing = path.join(existing, name);
    await ensureOneDir(existing, mode, false);
  }
  return real;
}

async function ensureOneDir(dir: string, mode: number, appOwned: boolean): Promise<void> {
  try {
    await fs.mkdir(dir, { mode });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const stats = await fs.lstat(dir);
  if (stats.isSymbolicLink()) throw new UnsafePathError(dir, 'it is a symlink');
  if (!stats.isDirectory()) throw new UnsafePathError(dir, 'it is not a directory');
  if (appOwned) return;
  if (!trustedOwner(stats)) throw new UnsafePathError(dir, `it is owned by uid ${stats.uid}, not root`);
  if ((stats.mode & WRITABLE_BY_OTHERS) !== 0) {
    throw new UnsafePathError(dir, `it is writable by group or others (mode ${modeString(stats)})`);
  }
}

function checkSegment(base: string, segment: string): void {
  if (
    segment === '' ||
    segment === '.' ||
    segment === '..' ||
    segment.includes('/') ||
    segment.includes('\0')
  ) {
    throw new UnsafePathError(path.join(base, segment), `${JSON.stringify(segment)} is not a single name`);
  }
}

function modeString(stats: Stats): string {
  return (stats.mode & 0o7777).toString(8).padStart(4, '0');
}
