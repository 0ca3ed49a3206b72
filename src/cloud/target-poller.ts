import { createHash } from 'node:crypto';
import type { Got } from 'got';
import type { JsonStore } from '../store/json-store.js';
import { stableStringify } from '../target/config-hash.js';
import type { Logger } from '../util/logger.js';
import { errorMessage } from '../util/errors.js';
import {
  CloudAuthError,
  CloudUnavailableError,
  cloudRequest,
  createCloudHttp,
  errorForStatus,
  headerValue,
  type CloudResponse,
} from './http.js';
import { parseTargetResponse } from './poll-response.js';
import { firstPollDelay, pollDelay, retryDelay, staleAfterMs } from './poll-schedule.js';
import { setClampedTimeout } from '../util/timers.js';

export type PollResult = 'changed' | 'unchanged' | 'rejected' | 'error' | 'auth-error';

/**
 * What the poller keeps in the store about the last target the agent ACCEPTED: its ETag and a
 * fingerprint of its content. The document itself is kept once, by the agent's target keeper; a
 * second copy here would double every write of a large target to the device's flash.
 */
export interface StoredTarget {
  etag?: string;
  /** sha256 of the document with keys sorted: equal content, equal hash. */
  bodyHash: string;
  /** ISO 8601. */
  receivedAt: string;
}

/** The fingerprint stored for a target document. */
export function targetDocumentHash(doc: unknown): string {
  return createHash('sha256').update(stableStringify(doc)).digest('hex');
}

/** Facts about the response a target came in, for logs and metrics. */
export interface TargetInfo {
  etag?: string;
  status: number;
  bytes: number;
  receivedAt: Date;
}

export interface TargetVerdict {
  accepted: boolean;
  reason?: string;
}

export interface TargetPollerDeps {
  endpoint: string;
  uuid: string;
  getDeviceKey: () => string;
  store: JsonStore;
  log: Logger;
  /** Validates and takes the document. Rejecting keeps the ETag off disk, so the next poll refetches. */
  onTarget: (doc: Record<string, unknown>, info: TargetInfo) => Promise<TargetVerdict>;
  /**
   * Every whole-document rejection: the body was not a JSON object (onTarget is never called with
   * it), or onTarget rejected it. Wire it to the report's `target_error`.
   */
  onRejected: (reason: string) => void;
  /** The effective interval (config vs cloud), read before every scheduling decision. */
  intervalMs: () => number;
  instantUpdates: () => boolean;
  userAgent: string;
  requestTimeoutMs?: number;
  random?: () => number;
  now?: () => number;
  onPollResult?: (result: PollResult) => void;
  /** Store key of the accepted target; default `cloud-target`. */
  storeKey?: string;
  /** A got instance to use instead of creating one (tests, a shared client). */
  http?: Got;
  /**
   * Least time from the start of one poll to a triggered one; default the poll interval, at most
   * MIN_TRIGGERED_POLL_GAP_MS. Triggers within it wait for its end and share that one poll.
   */
  triggerGapMs?: number;
}

interface Outcome {
  result: PollResult;
  /** Set for failures worth retrying soon (network, timeout, 5xx, 429). */
  transient?: boolean;
  retryAfterMs?: number;
}

const FALLBACK_INTERVAL_MS = 900_000;

/**
 * A triggered poll starts at least this long after the previous poll started (or one interval,
 * when the interval is shorter). Coalescing per poll alone is not enough: a stream of
 * /v1/update calls lands in every poll and keeps a follow-up queued behind each, so 28,000
 * calls made 885 back-to-back polls (attack review #12). 10 s is the floor the cloud may set for
 * the poll interval (contract section 4): triggers never poll faster than the cloud may ask.
 */
export const MIN_TRIGGERED_POLL_GAP_MS = 10_000;

/**
 * Polls the device's v3 target with its ETag (contract section 3).
 *
 * Invariants:
 * - At most one request is in flight. A trigger during a poll causes at most one follow-up poll.
 * - A triggered poll starts no sooner than the trigger gap after the previous poll started, and
 *   never later than the poll already scheduled: any number of triggers within one gap, during
 *   a poll or not, make one poll.
 * - Exactly one timer is pending while started and idle; none after stop().
 * - The ETag is stored only with a document onTarget accepted, so a rejected one is refetched
 *   at the next normal poll (not sooner: it would only be rejected again).
 * - 401/403 are logged as an authentication problem and retried at the poll interval, not on the
 *   fast backoff: an operator has to fix them on the cloud side.
 * - Nothing escapes the timer callback: every failure is logged and turned into a schedule.
 *
 * Schedule (poll-schedule.ts): the first poll after a random delay of up to 10% of the interval
 * (at most 10 s), then every interval plus up to 10% jitter; transient failures back off with
 * full jitter, capped at the interval; a Retry-After (seconds or an HTTP date) holds, capped.
 */
export class TargetPoller {
  private readonly http: Got;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly storeKey: string;
  private stored: StoredTarget | undefined;
  private storedLoaded = false;
  private started = false;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (meaningful while `timer` is set). */
  private timerDueAt = 0;
  /** When the last poll started; a triggered poll keeps the trigger gap from it. */
  private lastPollStartedAt = -Infinity;
  private inFlight: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private followUp = false;
  private failures = 0;
  /** Set by each poll: how long until the next one. */
  private nextDelayMs = 0;
  /** Retry-After hold: no request before this time, triggers included. */
  private notBefore = 0;
  private startedAt: number | undefined;
  private lastSuccess: number | undefined;

  constructor(private readonly deps: TargetPollerDeps) {
    this.http = deps.http ?? createCloudHttp({ userAgent: deps.userAgent, timeoutMs: deps.requestTimeoutMs });
    this.random = deps.random ?? Math.random;
    this.now = deps.now ?? Date.now;
    this.storeKey = deps.storeKey ?? 'cloud-target';
  }

  /** The last accepted target from the store (survives restarts), or undefined. */
  async storedTarget(): Promise<StoredTarget | undefined> {
    if (!this.storedLoaded) {
      this.stored = await this.deps.store.read<StoredTarget>(this.storeKey);
      this.storedLoaded = true;
    }
    return this.stored;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.startedAt = this.now();
    this.schedule(firstPollDelay(this.interval(), this.random));
  }

  /** Stops the timer and aborts a request in flight; resolves once that poll has settled. */
  async stop(): Promise<void> {
    this.started = false;
    this.followUp = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    await this.inFlight;
  }

  /**
   * Poll now (from the local API's /v1/update). Returns false, doing nothing, when instant updates
   * are off and `force` is not set, or the poller is not started. Triggers that arrive together
   * share one request; a server's Retry-After still holds (the poll runs when it ends). Only the
   * poll waits for the trigger gap: the caller wakes the apply (and a force) at once, on the
   * target the device already has.
   */
  triggerPoll({ force = false }: { force?: boolean } = {}): boolean {
    if (!this.started) return false;
    if (!force && !this.deps.instantUpdates()) return false;
    if (this.inFlight) {
      this.followUp = true;
      return true;
    }
    const delay = this.triggeredPollDelay();
    // A poll already due by then serves this trigger too; never postpone it.
    if (this.timer && this.timerDueAt <= this.now() + delay) return true;
    this.schedule(delay);
    return true;
  }

  lastSuccessAt(): number | undefined {
    return this.lastSuccess;
  }

  /** False when no poll has reached the cloud for longer than 2 intervals plus the backoff cap. */
  healthy(now: number = this.now()): boolean {
    const since = this.lastSuccess ?? this.startedAt;
    if (since === undefined) return true; // not started: nothing is stalled
    return now - since <= staleAfterMs(this.interval());
  }

  /** How long until a triggered poll may start: after the trigger gap and any Retry-After hold. */
  private triggeredPollDelay(): number {
    const now = this.now();
    const gap = this.deps.triggerGapMs ?? Math.min(this.interval(), MIN_TRIGGERED_POLL_GAP_MS);
    return Math.max(0, this.notBefore - now, this.lastPollStartedAt + gap - now);
  }

  private schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerDueAt = this.now() + delayMs;
    this.timer = setClampedTimeout(() => {
      this.timer = undefined;
      this.lastPollStartedAt = this.now();
      this.inFlight = this.runPoll().finally(() => {
        this.inFlight = undefined;
        this.afterPoll();
      });
    }, delayMs);
  }

  private afterPoll(): void {
    if (!this.started) return;
    if (this.followUp) {
      this.followUp = false;
      // The regular schedule wins when it is sooner (a quick retry after a failure).
      this.schedule(Math.min(this.nextDelayMs, this.triggeredPollDelay()));
      return;
    }
    this.schedule(this.nextDelayMs);
  }

  /** One request and its consequences. Never rejects. */
  private async runPoll(): Promise<void> {
    const interval = this.interval();
    let outcome: Outcome;
    try {
      outcome = await this.pollOnce();
    } catch (err) {
      // Our own failure (onTarget threw, store unreadable): not the network's, so no fast retry.
      this.deps.log.error({ err: errorMessage(err) }, 'target poll failed');
      outcome = { result: 'error' };
    }
    if (!this.started && outcome.transient) return; // aborted by stop(): not a real failure
    if (outcome.result !== 'error' && outcome.result !== 'auth-error') this.lastSuccess = this.now();
    if (outcome.transient) {
      this.failures += 1;
      this.nextDelayMs = retryDelay(this.failures, interval, outcome.retryAfterMs, this.random);
      this.notBefore = outcome.retryAfterMs === undefined ? 0 : this.now() + this.nextDelayMs;
      this.deps.log.debug({ retryInMs: this.nextDelayMs, failures: this.failures }, 'target poll will retry');
    } else {
      this.failures = 0;
      this.notBefore = 0;
      this.nextDelayMs = pollDelay(interval, this.random);
    }
    try {
      this.deps.onPollResult?.(outcome.result);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'poll result hook failed');
    }
  }

  private async pollOnce(): Promise<Outcome> {
    const stored = await this.storedTarget();
    const url = `${this.deps.endpoint.replace(/\/+$/, '')}/device/v3/${encodeURIComponent(this.deps.uuid)}/state`;
    this.abort = new AbortController();
    let res: CloudResponse;
    try {
      res = await cloudRequest(this.http, {
        method: 'GET',
        url,
        bearer: this.deps.getDeviceKey(),
        headers: { accept: 'application/json', ...(stored?.etag ? { 'if-none-match': stored.etag } : {}) },
        signal: this.abort.signal,
      });
    } catch (err) {
      if (err instanceof CloudUnavailableError) {
        if (this.started)
          this.deps.log.warn({ err: err.message }, 'cloud unreachable while polling the target');
        return { result: 'error', transient: true };
      }
      throw err;
    } finally {
      this.abort = undefined;
    }
    return this.handleResponse(res, stored);
  }

  private async handleResponse(res: CloudResponse, stored: StoredTarget | undefined): Promise<Outcome> {
    const failure = errorForStatus(res, 'target poll', new Date(this.now()));
    if (failure instanceof CloudAuthError) {
      this.deps.log.error(
        { status: failure.status },
        'the cloud refused the device key while polling the target; check the device key and registration (retrying at the poll interval)',
      );
      return { result: 'auth-error' };
    }
    if (failure instanceof CloudUnavailableError) {
      this.deps.log.warn({ status: failure.status, retryAfterMs: failure.retryAfterMs }, failure.message);
      return { result: 'error', transient: true, retryAfterMs: failure.retryAfterMs };
    }
    if (failure) {
      this.deps.log.error({ err: failure.message }, 'unexpected answer to the target poll');
      return { result: 'error' };
    }
    if (res.status === 304) {
      if (!stored?.etag) {
        this.deps.log.error('cloud answered 304 Not Modified, but no ETag was sent: nothing to keep');
        return { result: 'error' };
      }
      return { result: 'unchanged' };
    }
    return this.handleDocument(res, stored);
  }

  private async handleDocument(res: CloudResponse, stored: StoredTarget | undefined): Promise<Outcome> {
    const parsed = parseTargetResponse(res);
    if (!parsed.ok) return this.reject(parsed.reason);
    const etag = headerValue(res.headers.etag);
    const receivedAt = new Date(this.now());
    const bodyHash = targetDocumentHash(parsed.doc);
    if (stored && stored.bodyHash === bodyHash) {
      // Same document (a server that ignores If-None-Match, or a new ETag for equal content).
      if (etag !== stored.etag) await this.save({ etag, bodyHash, receivedAt: receivedAt.toISOString() });
      return { result: 'unchanged' };
    }
    const verdict = await this.deps.onTarget(parsed.doc, {
      etag,
      status: res.status,
      bytes: res.bodyBytes,
      receivedAt,
    });
    if (!verdict.accepted) return this.reject(verdict.reason ?? 'target rejected (no reason given)');
    await this.save({ etag, bodyHash, receivedAt: receivedAt.toISOString() });
    this.deps.log.info({ etag }, 'new target state accepted');
    return { result: 'changed' };
  }

  private reject(reason: string): Outcome {
    this.deps.log.warn({ reason }, 'target state rejected whole; what is running stays as it is');
    try {
      this.deps.onRejected(reason);
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err) }, 'target rejection hook failed');
    }
    return { result: 'rejected' };
  }

  private async save(target: StoredTarget): Promise<void> {
    // Memory first: even if the disk write fails, this run does not re-apply the same document.
    this.stored = target;
    this.storedLoaded = true;
    try {
      await this.deps.store.writeCache(this.storeKey, target);
    } catch (err) {
      this.deps.log.error(
        { err: errorMessage(err) },
        'could not persist the target ETag; a restart refetches it',
      );
    }
  }

  /** The effective interval; a callback that throws or answers nonsense must not stop polling. */
  private interval(): number {
    let ms: number;
    try {
      ms = this.deps.intervalMs();
    } catch (err) {
      this.deps.log.error(
        { err: errorMessage(err) },
        `poll interval callback failed; using ${FALLBACK_INTERVAL_MS} ms`,
      );
      return FALLBACK_INTERVAL_MS;
    }
    if (Number.isFinite(ms) && ms > 0) return ms;
    this.deps.log.warn({ intervalMs: ms }, `invalid poll interval; using ${FALLBACK_INTERVAL_MS} ms`);
    return FALLBACK_INTERVAL_MS;
  }
}
