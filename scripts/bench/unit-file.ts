/**
 * The node flags of the systemd unit we ship (examples/bosun.service, its ExecStart line), for the
 * benchmarks that measure the agent as that unit runs it (poll-idle's `unit` mode) and what those
 * flags cost (unit-flags.ts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** examples/bosun.service, from where the benchmarks run (dist/scripts/bench). */
export const UNIT_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../examples/bosun.service',
);

/** The node flags the shipped systemd unit runs the agent with (its ExecStart line). */
export function unitNodeFlags(): string[] {
  const exec = /^ExecStart=(.*)$/m.exec(readFileSync(UNIT_FILE, 'utf8'));
  if (!exec) throw new Error(`${UNIT_FILE} has no ExecStart line`);
  const words = exec[1]!.trim().split(/\s+/);
  if (!/(^|\/)node$/.test(words[0]!)) throw new Error(`${UNIT_FILE}: ExecStart does not run node`);
  return words.slice(1).filter((word) => word.startsWith('--'));
}
