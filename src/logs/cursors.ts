import { compareCursors, isCursor } from '../engine/log-cursor.js';
import type { JsonStore } from '../store/json-store.js';
import { isPlainObject } from '../target/fields.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { DeviceLogLine, LogStream, StreamCursors } from './types.js';

const STORE_KEY = 'log-cursors';
const STREAMS: readonly LogStream[] = ['stdout', 'stderr'];

/**
 * Per container and stream, the engine time of the last log line delivered (to the cloud, or in
 * local mode to the local log stream), persisted: after a restart each container's log is
 * followed from there, so no line is shipped twice. Only containers that still exist are kept.
 */
export class LogCursors {
  private readonly delivered = new Map<string, StreamCursors>();
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: JsonStore,
    private readonly log: Logger,
  ) {}

  static async load(store: JsonStore, log: Logger): Promise<LogCursors> {
    const cursors = new LogCursors(store, log);
    const stored = await store.read<unknown>(STORE_KEY);
    for (const [containerId, entry] of Object.entries(isPlainObject(stored) ? stored : {})) {
      if (!isPlainObject(entry)) continue;
      const streams: StreamCursors = {};
      for (const stream of STREAMS) if (isCursor(entry[stream])) streams[stream] = entry[stream];
      cursors.delivered.set(containerId, streams);
    }
    return cursors;
  }

  /** Where the container's delivered output ends, per stream (empty: nothing delivered yet). */
  get(containerId: string): StreamCursors {
    return { ...this.delivered.get(containerId) };
  }

  /** These lines were delivered: their containers' cursors move on (never back). */
  record(lines: readonly DeviceLogLine[]): void {
    for (const line of lines) {
      if (!line.source) continue;
      const { containerId, stream, cursor } = line.source;
      const streams = this.delivered.get(containerId) ?? {};
      const known = streams[stream];
      if (known === undefined || compareCursors(cursor, known) > 0) {
        streams[stream] = cursor;
        this.delivered.set(containerId, streams);
        this.dirty = true;
      }
    }
  }

  /** Forgets containers that are gone, so the record stays as small as the device's services. */
  retain(containerIds: ReadonlySet<string>): void {
    for (const containerId of this.delivered.keys()) {
      if (!containerIds.has(containerId)) {
        this.delivered.delete(containerId);
        this.dirty = true;
      }
    }
  }

  /**
   * Writes the record if it changed, after any write already running. A failed write is logged
   * and left dirty for the next call: at worst lines are shipped again after a restart.
   */
  persist(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      try {
        await this.store.writeCache(STORE_KEY, Object.fromEntries(this.delivered));
      } catch (err) {
        this.dirty = true;
        this.log.warn({ err: errorMessage(err) }, 'cannot persist where the container logs were shipped');
      }
    });
    return this.writing;
  }
}
