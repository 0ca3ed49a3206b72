import { promises as fs } from 'node:fs';

/**
 * The kernel's id of this boot: it changes on every reboot. Undefined where the kernel does not
 * offer one (then "until the next reboot" degrades to "for good").
 */
export async function readBootId(file = '/proc/sys/kernel/random/boot_id'): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
