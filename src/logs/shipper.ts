import type { Got } from 'got';
import { nextDelay, RETRY_AFTER_CAP_MS } from '../cloud/backoff.js';
import {
  CloudAuthError,
  CloudResponseError,
  CloudUnavailableError,
  cloudRequest,
  createCloudHttp,
  errorForStatus,
} from '../cloud/http.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { setClampedTimeout } from '../util/timers.js';
import type { LogBuffer } from './buffer.js';
import { systemLine, toWireLine, type DeviceLogLine } from './types.js';

export interface LogShipperDeps {
  endpoint: string;
  uuid: string;
  getDeviceKey: () => string;
  buffer: LogBuffer<DeviceLogLine>;
  log: Logger;
  /** Called with each batch the cloud accepted, before the next is sent (log cursors persist here). */
  onDelivered?: (lines: DeviceLogLine[]) => Promise<void>;
  /** Lines a batch gathers for this long after the first one waits; default 500 ms. */
  gatherMs?: number;
  /** Lines per batch at most; default 500. */
  batchLines?: number;
  /** Bytes of NDJSON per batch at most (one line always goes); default 512 KiB. */
  batchBytes?: number;
  /** Backoff while the cloud is away: first window and ceiling; default 1 s and 5 minutes. */
  backoff?: { baseMs: number; capMs: number };
  userAgent?: string;
  requestTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  http?: Got;
}

const DEFAULT_GATHER_MS = 500;
const DEFAULT_BATCH_LINES = 500;
/** Half the backend's body limit: a batch is never refused for its size. */
const DEFAULT_BATCH_BYTES = 512 * 1024;
const DEFAULT_BACKOFF = { baseMs: 1_000, capMs: 5 * 60_000 };

/**
 * Ships the device's log lines to `POST {endpoint}/device/v2/{uuid}/log-stream` (contract
 * section 12) as NDJSON, in batches, with the device key.
 *
 * Invariants:
 * - One batch in flight at a time, so lines arrive in the order they were buffered.
 * - A batch the cloud did not take (network error, 5xx, 429, a refused key) goes back to the
 *   front of the buffer and is sent again after a full-jitter backoff (no sooner than a
 *   Retry-After); meanwhile the buffer keeps at most its capacity and counts what it drops.
 * - A batch the cloud refuses for good (another 4xx) is dropped and counted with the others.
 * - Dropped lines are reported by a system line at the head of the next batch that is sent.
 */
export class LogShipper {
  private readonly http: Got;
  private readonly url: string;
  private readonly now: () => number;
  private readonly backoff: { baseMs: number; capMs: number };
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  private nextAllowedAt = 0;
  private stopped = false;
  /** Each line's wire text, made once: its length decides the batch, and the same text is sent. */
  private readonly wireTexts = new WeakMap<DeviceLogLine, string>();

  constructor(private readonly deps: LogShipperDeps) {
    this.http =
      deps.http ??
      createCloudHttp({ userAgent: deps.userAgent ?? 'bosun', timeoutMs: deps.requestTimeoutMs });
    this.url = `${deps.endpoint.replace(/\/+$/, '')}/device/v2/${encodeURIComponent(deps.uuid)}/log-stream`;
    this.now = deps.now ?? Date.now;
    this.backoff = deps.backoff ?? DEFAULT_BACKOFF;
  }

  /** A line was buffered: a batch goes out once it has gathered, or the backoff allows. */
  notify(): void {
    this.schedule(this.deps.gatherMs ?? DEFAULT_GATHER_MS);
  }

  /** True while the cloud has not taken everything (lines waiting, in flight, or a drop count). */
  pending(): boolean {
    return this.deps.buffer.unsent > 0 || this.deps.buffer.droppedCount > 0;
  }

  /**
   * For shutdown: sends what is buffered now, ignoring the gathering and the backoff, until the
   * buffer is empty or a batch fails. Resolves true when everything was delivered.
   */
  async flush(): Promise<boolean> {
    this.clearTimer();
    await this.inFlight;
    while (this.pending()) {
      const failuresBefore = this.failures;
      await this.run();
      if (this.failures > failuresBefore) return false;
    }
    return true;
  }

  /** No more batches; waits for the one in flight. Call flush() first to send what is buffered. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.inFlight;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(gatherMs: number): void {
    if (this.stopped || this.timer || this.inFlight || !this.pending()) return;
    const delay = Math.max(gatherMs, this.nextAllowedAt - this.now());
    this.timer = setClampedTimeout(() => {
      this.timer = undefined;
      // More lines than one batch holds go out back to back; the rest gather first.
      void this.run().then(() => this.schedule(this.deps.buffer.waiting >= this.batchLines() ? 0 : gatherMs));
    }, delay);
  }

  private batchLines(): number {
    return this.deps.batchLines ?? DEFAULT_BATCH_LINES;
  }

  /** One batch. Never rejects. */
  private run(): Promise<void> {
    const run = this.sendBatch()
      .catch((err: unknown) => {
        // Not a cloud answer (a bug, a failing cursor write): keep the lines, back off.
        this.deps.log.error({ err: errorMessage(err) }, 'log batch failed');
        this.failed(undefined);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = run;
    return run;
  }

  private async sendBatch(): Promise<void> {
    const { buffer } = this.deps;
    const dropped = buffer.takeDropped();
    const notice = dropped > 0 ? [dropNotice(dropped, buffer.capacity, this.now())] : [];
    const lines = buffer.take(
      this.batchLines(),
      (line) => Buffer.byteLength(this.wireText(line)) + 1,
      this.deps.batchBytes ?? DEFAULT_BATCH_BYTES,
    );
    if (lines.length === 0 && notice.length === 0) {
      buffer.delivered();
      return;
    }
    const body = [...notice, ...lines].map((line) => `${this.wireText(line)}\n`).join('');
    let failure: Error | undefined;
    try {
      const res = await cloudRequest(this.http, {
        method: 'POST',
        url: this.url,
        bearer: this.deps.getDeviceKey(),
        headers: { 'content-type': 'application/x-ndjson' },
        body,
      });
      failure = errorForStatus(res, 'log batch', new Date(this.now()));
    } catch (err) {
      if (!(err instanceof CloudUnavailableError)) {
        buffer.returned();
        buffer.restoreDropped(dropped);
        throw err;
      }
      failure = err;
    }
    if (failure === undefined) {
      this.deps.log.debug({ lines: lines.length, dropped }, 'log batch delivered');
      buffer.delivered();
      this.failures = 0;
      await this.deps.onDelivered?.(lines);
      return;
    }
    if (failure instanceof CloudResponseError) {
      // The cloud will never take these lines (404: no log support; 400: it cannot read them).
      this.deps.log.error(
        { err: failure.message, lines: lines.length },
        'the cloud refused a log batch; its lines are dropped',
      );
      buffer.discarded();
      buffer.restoreDropped(dropped);
      this.failed(undefined);
      return;
    }
    buffer.returned();
    buffer.restoreDropped(dropped);
    this.deps.log.warn(
      { err: failure.message, unsent: buffer.unsent },
      'log batch not delivered; will retry with the lines kept',
    );
    this.failed(failure instanceof CloudUnavailableError ? failure.retryAfterMs : undefined, failure);
  }

  private wireText(line: DeviceLogLine): string {
    let text = this.wireTexts.get(line);
    if (text === undefined) {
      text = JSON.stringify(toWireLine(line));
      this.wireTexts.set(line, text);
    }
    return text;
  }

  private failed(retryAfterMs: number | undefined, failure?: Error): void {
    this.failures += 1;
    const wait =
      failure instanceof CloudAuthError
        ? this.backoff.capMs
        : Math.max(
            // At least the first window: full jitter alone may retry a cloud that is down at once.
            this.backoff.baseMs,
            nextDelay(this.failures, { ...this.backoff, random: this.deps.random }),
            Math.min(retryAfterMs ?? 0, RETRY_AFTER_CAP_MS),
          );
    this.nextAllowedAt = this.now() + wait;
  }
}

function dropNotice(count: number, capacity: number, now: number): DeviceLogLine {
  return systemLine(
    `${count} log line${count === 1 ? '' : 's'} dropped: the cloud did not take them, and the device keeps at most ${capacity} unsent lines (BOSUN_LOG_BUFFER_LINES)`,
    now,
  );
}
