import { Ring } from './ring.js';
import type { DeviceLogLine } from './types.js';

/** What GET /v2/local/logs reads: the recent lines, then each new one. */
export interface LocalLogSource {
  /** The recent lines (oldest first), and `listener` called with every later one until unsubscribed. */
  subscribe(listener: (line: DeviceLogLine) => void): { recent: DeviceLogLine[]; unsubscribe: () => void };
}

/** Recent lines kept for a client that connects to the local log stream. */
export const DEFAULT_RECENT_LINES = 1000;

/**
 * The device's log lines for the local API (balena's local log stream): the last
 * `recentLines` in memory, and the clients following them now.
 */
export class LocalLogStream implements LocalLogSource {
  private readonly recent: Ring<DeviceLogLine>;
  private readonly listeners = new Set<(line: DeviceLogLine) => void>();

  constructor(recentLines = DEFAULT_RECENT_LINES) {
    this.recent = new Ring(recentLines);
  }

  publish(line: DeviceLogLine): void {
    this.recent.push(line);
    for (const listener of this.listeners) listener(line);
  }

  subscribe(listener: (line: DeviceLogLine) => void) {
    this.listeners.add(listener);
    return { recent: this.recent.toArray(), unsubscribe: () => this.listeners.delete(listener) };
  }

  /** Clients following now. */
  get followers(): number {
    return this.listeners.size;
  }
}
