import { setTimeout as sleep } from 'node:timers/promises';
import { BosunError } from '../util/errors.js';
import type { FleetClient } from './client.js';
import { rolloutLine, summarizeRollout, type RolloutSummary } from './cli-format.js';

export interface WatchOptions {
  fleet: string;
  intervalMs: number;
  /** Give up after this long; undefined waits until every device is on its target. */
  timeoutMs?: number;
  json: boolean;
  write: (text: string) => void;
  /** Redraw one status line in place (a terminal) instead of printing a line per change. */
  inPlace: boolean;
  now?: () => number;
}

/**
 * Follows a rollout: polls the device list every interval and prints where the fleet stands,
 * until every device runs its target release (pinned devices: their pin). Throws ETIMEOUT when
 * the timeout passes first.
 */
export async function watchRollout(client: FleetClient, options: WatchOptions): Promise<RolloutSummary> {
  const now = options.now ?? Date.now;
  const deadline = options.timeoutMs === undefined ? Infinity : now() + options.timeoutMs;
  let last = '';
  for (;;) {
    const summary = summarizeRollout(await client.listDevices(options.fleet));
    const text = options.json
      ? JSON.stringify({ fleet: options.fleet, ...summary })
      : rolloutLine(options.fleet, summary);
    if (options.inPlace && !options.json) options.write(`\r\x1b[K${text}`);
    else if (text !== last) options.write(`${text}\n`);
    last = text;
    const done = summary.onTarget === summary.total;
    if (done || now() >= deadline) {
      if (options.inPlace && !options.json) options.write('\n');
      if (done) return summary;
      throw new BosunError(
        'ETIMEOUT',
        `timed out: ${summary.onTarget} of ${summary.total} devices of ${options.fleet} on their target release`,
      );
    }
    await sleep(Math.min(options.intervalMs, Math.max(0, deadline - now())));
  }
}
