import { promises as fs } from 'node:fs';
import { ifMissing } from './fs.js';

/**
 * The kernel's id of this boot: it changes on every reboot. Undefined where the kernel does not
 * offer one (then "until the next reboot" degrades to "for good").
 */
export async function readBootId(file = '/proc/sys/kernel/random/boot_id'): Promise<string | undefined> {
  const text = await ifMissing(fs.readFile(file, 'utf8'), '');
  return text.trim() || undefined;
}
