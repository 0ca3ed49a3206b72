import { setTimeout as sleep } from 'node:timers/promises';
import { BosunError, errorMessage } from '../util/errors.js';
import type { DeviceLogEntry } from './api-types.js';
import type { FleetClient } from './client.js';

export interface PrintLogsOptions {
  device: string;
  tail: number;
  service?: string;
  follow: boolean;
  json: boolean;
  write: (text: string) => void;
  /** Told once per outage while following (the backend away); stderr in the CLI. */
  warn: (text: string) => void;
  /** Ends a follow (the CLI follows until the process is interrupted). */
  signal?: AbortSignal;
  /** How long one follow request waits for new lines; default 25 s. */
  waitMs?: number;
  /** Wait before asking again after a failed follow request; default 1 s. */
  retryMs?: number;
}

/** `2026-01-02T03:04:05.678Z [main] the message`; the agent's own lines show as [bosun]. */
export function formatLogLine(entry: DeviceLogEntry): string {
  const source = entry.serviceName ?? (entry.isSystem ? 'bosun' : '-');
  return `${new Date(entry.timestamp).toISOString()} [${source}] ${entry.message}`;
}

/** The --json form: one object a line, with the contract's fields. */
export function jsonLogLine(entry: DeviceLogEntry): string {
  const { timestamp, serviceName, isStderr, isSystem, message } = entry;
  return JSON.stringify({ timestamp, serviceName, isStderr, isSystem, message });
}

/**
 * `bosun fleet logs`: prints the device's last `tail` lines, oldest first; with `follow`, then
 * every new line as the backend stores it (long polls), until `signal` aborts. A follow rides out
 * a backend that is away for a while: it says so once and asks again.
 */
export async function printDeviceLogs(client: FleetClient, options: PrintLogsOptions): Promise<void> {
  const print = (lines: DeviceLogEntry[]) => {
    if (lines.length === 0) return;
    options.write(lines.map((l) => `${options.json ? jsonLogLine(l) : formatLogLine(l)}\n`).join(''));
  };
  const first = await client.deviceLogs(options.device, { tail: options.tail, service: options.service });
  print(first.lines);
  let last = first.last;
  let away = false;
  while (options.follow && !options.signal?.aborted) {
    try {
      const page = await client.deviceLogs(first.uuid, {
        after: last,
        service: options.service,
        waitMs: options.waitMs ?? 25_000,
      });
      if (options.signal?.aborted) return;
      away = false;
      print(page.lines);
      last = page.last;
    } catch (err) {
      if (!(err instanceof BosunError && err.transient)) throw err;
      if (!away) options.warn(`bosun: ${errorMessage(err)}; still following\n`);
      away = true;
      await sleep(options.retryMs ?? 1_000, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }
}
