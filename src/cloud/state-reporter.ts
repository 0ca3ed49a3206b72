import type { Got } from 'got';
import type { JsonStore } from '../store/json-store.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/errors.js';
import { nextDelay, RETRY_AFTER_CAP_MS } from './backoff.js';
import {
  CloudAuthError,
  CloudUnavailableError,
  cloudRequest,
  createCloudHttp,
  errorForStatus,
} from './http.js';
import { diffReport, type JsonObject } from './report-diff.js';
import type { DeviceReport } from './report-types.js';
import { setClampedTimeout } from '../util/timers.js';

export type { DeviceReport } from './report-types.js';

export type ReportResult = 'sent' | 'error' | 'auth-error';

export interface StateReporterDeps {
  endpoint: string;
  uuid: string;
  getDeviceKey: () => string;
  store: JsonStore;
  log: Logger;
  /** The full current report of this device; called when a PATCH is about to be built. */
  getState: () => DeviceReport;
  /** At most one PATCH per this many ms; default 10000. */
  intervalMs?: number;
  /** Longest wait between retries of a failing PATCH; default 5 minutes. */
  maxBackoffMs?: number;
  userAgent?: string;
  requestTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  onReportResult?: (result: ReportResult) => void;
  /** Store key of the last acknowledged report; default `cloud-report`. */
  storeKey?: string;
  http?: Got;
}

/** What is persisted: the report the cloud last acknowledged, for this uuid. */
interface StoredReport {
  uuid: string;
  report: JsonObject;
}

const DEFAULT_REPORT_INTERVAL_MS = 10_000;
const DEFAULT_REPORT_MAX_BACKOFF_MS = 5 * 60_000;

/**
 * Sends the device's state to the cloud (contract section 5): only what changed since the last
 * report the cloud ACKNOWLEDGED, throttled, retried with backoff.
 *
 * Invariants:
 * - At most one PATCH in flight, and PATCHes start at least `intervalMs` apart, except `flush()`.
 * - A failed PATCH loses nothing: the acknowledged baseline does not move, so the next diff
 *   (rebuilt from the state at that time) carries every change since, folded together.
 * - The baseline is persisted, so a restart sends only what changed while the agent was down.
 *
 * The reporter sends nothing until `notify()` is called: the agent calls it once at start-up.
 */
export class StateReporter {
  private readonly http: Got;
  private readonly intervalMs: number;
  private readonly maxBackoffMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly storeKey: string;
  private acked: JsonObject | undefined;
  private ackLoaded = false;
  private dirty = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  /** No PATCH before this time (throttle, or backoff after a failure). */
  private nextAllowedAt = 0;

  constructor(private readonly deps: StateReporterDeps) {
    this.http =
      deps.http ??
      createCloudHttp({ userAgent: deps.userAgent ?? 'bosun', timeoutMs: deps.requestTimeoutMs });
    this.intervalMs = deps.intervalMs ?? DEFAULT_REPORT_INTERVAL_MS;
    this.maxBackoffMs = deps.maxBackoffMs ?? DEFAULT_REPORT_MAX_BACKOFF_MS;
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
    this.storeKey = deps.storeKey ?? 'cloud-report';
  }

  /** The state changed: report it with the next PATCH the throttle allows. */
  notify(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.scheduleNext();
  }

  /** True while a change has not been acknowledged by the cloud. */
  pending(): boolean {
    return this.dirty || this.inFlight !== undefined;
  }

  /**
   * For shutdown: send what is pending now, ignoring the throttle and any backoff, one attempt.
   * Resolves true when the cloud has acknowledged everything.
   */
  async flush(): Promise<boolean> {
    this.clearTimer();
    await this.inFlight;
    this.clearTimer(); // the send that just finished may have scheduled the next one
    if (this.dirty) await this.runSend();
    const acknowledged = !this.dirty;
    this.scheduleNext(); // still running after a failed flush: keep retrying
    return acknowledged;
  }

  /** No more PATCHes; waits for one in flight. Call flush() first to send what is pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.inFlight;
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Arms the one timer for the next PATCH, unless one is armed or in flight already. */
  private scheduleNext(): void {
    if (this.stopped || !this.dirty || this.timer || this.inFlight) return;
    const delay = Math.max(0, this.nextAllowedAt - this.now());
    this.timer = setClampedTimeout(() => {
      this.timer = undefined;
      void this.runSend().then(() => this.scheduleNext());
    }, delay);
  }

  /** One PATCH (or none, when nothing differs). Never rejects. */
  private runSend(): Promise<void> {
    const run = this.sendOnce()
      .catch((err: unknown) => {
        this.deps.log.error({ err: errorMessage(err) }, 'state report failed');
        this.dirty = true;
        this.failed(undefined, false);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    this.inFlight = run;
    return run;
  }

  private async sendOnce(): Promise<void> {
    this.dirty = false;
    const baseline = await this.loadAck();
    // JSON round trip: the baseline must equal what the cloud received, not what we held.
    const state = JSON.parse(JSON.stringify(this.deps.getState())) as JsonObject;
    const diff = diffReport(baseline ?? {}, state);
    if (Object.keys(diff).length === 0) return;

    const startedAt = this.now();
    this.nextAllowedAt = startedAt + this.intervalMs;
    let failure: Error | undefined;
    try {
      const res = await cloudRequest(this.http, {
        method: 'PATCH',
        url: `${this.deps.endpoint.replace(/\/+$/, '')}/device/v3/state`,
        bearer: this.deps.getDeviceKey(),
        json: { [this.deps.uuid]: diff },
      });
      failure = errorForStatus(res, 'state report', new Date(this.now()));
    } catch (err) {
      if (!(err instanceof CloudUnavailableError)) throw err;
      failure = err;
    }
    if (failure) {
      this.dirty = true; // keep the changes: the baseline did not move
      this.logFailure(failure);
      const retryAfter = failure instanceof CloudUnavailableError ? failure.retryAfterMs : undefined;
      this.failed(retryAfter, failure instanceof CloudAuthError);
      return;
    }
    this.failures = 0;
    this.acked = state;
    this.hook('sent');
    this.deps.log.debug({ keys: Object.keys(diff) }, 'state report acknowledged');
    try {
      await this.deps.store.writeCache(this.storeKey, {
        uuid: this.deps.uuid,
        report: state,
      } satisfies StoredReport);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'could not persist the acknowledged report');
    }
  }

  /**
   * After a failure: at least one interval, plus full-jitter backoff growing to maxBackoffMs, and
   * no sooner than the server's Retry-After. A refused key waits the longest.
   */
  private failed(retryAfterMs: number | undefined, auth: boolean): void {
    this.failures += 1;
    const backoff = auth
      ? this.maxBackoffMs
      : this.intervalMs +
        nextDelay(this.failures, { baseMs: this.intervalMs, capMs: this.maxBackoffMs, random: this.random });
    const retryAfter = Math.min(retryAfterMs ?? 0, Math.max(RETRY_AFTER_CAP_MS, this.maxBackoffMs));
    const wait = Math.max(backoff, retryAfter);
    this.nextAllowedAt = this.now() + wait;
    this.hook(auth ? 'auth-error' : 'error');
  }

  private logFailure(failure: Error): void {
    if (failure instanceof CloudAuthError) {
      this.deps.log.error(
        { status: failure.status },
        'the cloud refused the device key for the state report; check the device key and registration',
      );
    } else {
      this.deps.log.warn(
        { err: failure.message },
        'state report not delivered; will retry with the changes kept',
      );
    }
  }

  private async loadAck(): Promise<JsonObject | undefined> {
    if (this.ackLoaded) return this.acked;
    const stored = await this.deps.store.read<StoredReport>(this.storeKey);
    // Another uuid's report (a re-provisioned device) is no baseline for this one.
    this.acked = stored && stored.uuid === this.deps.uuid ? stored.report : undefined;
    this.ackLoaded = true;
    return this.acked;
  }

  private hook(result: ReportResult): void {
    try {
      this.deps.onReportResult?.(result);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'report result hook failed');
    }
  }
}
