import { promises as fs } from 'node:fs';

/** Whether an fs error says the path (or a directory on the way) is not there. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** `op`'s result, or `fallback` when the path it reads is not there; any other error is thrown. */
export async function ifMissing<T, F>(op: Promise<T>, fallback: F): Promise<T | F> {
  try {
    return await op;
  } catch (err) {
    if (isMissing(err)) return fallback;
    throw err;
  }
}

/** lstat-based, as locks are checked: a directory or a dangling symlink exists too. */
export async function pathExists(file: string): Promise<boolean> {
  return ifMissing(
    fs.lstat(file).then(() => true),
    false,
  );
}
