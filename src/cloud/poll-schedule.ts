import { nextDelay, RETRY_AFTER_CAP_MS } from './backoff.js';

/**
 * When the target poller asks next. Pure functions of the interval, the failure count and an
 * injected random source, so the bounds are unit-testable without timers.
 */

/** Spread of a regular poll: up to this fraction of the interval is added at random. */
const POLL_JITTER_FRACTION = 0.1;
/** The first poll after start waits at most this long, however long the interval is. */
const FIRST_POLL_JITTER_CAP_MS = 10_000;
/** First retry window after a transient failure (shrunk to the interval when that is smaller). */
const RETRY_BASE_MS = 1_000;

type Random = () => number;

/** Regular cadence: interval plus up to 10% of it, so a fleet that booted together drifts apart. */
export function pollDelay(intervalMs: number, random: Random): number {
  return intervalMs + Math.round(clampUnit(random()) * POLL_JITTER_FRACTION * intervalMs);
}

/**
 * The first poll after start is soon (the device needs its target) but spread over a short window
 * so a power cut that reboots a whole site does not make every device poll in the same second.
 */
export function firstPollDelay(intervalMs: number, random: Random): number {
  const window = Math.min(FIRST_POLL_JITTER_CAP_MS, POLL_JITTER_FRACTION * intervalMs);
  return Math.round(clampUnit(random()) * window);
}

/**
 * After a transient failure (network, timeout, 5xx, 429): full-jitter backoff capped at the poll
 * interval (retrying slower than the normal cadence would be pointless), but never sooner than the
 * server's Retry-After. A Retry-After is spread by up to 10% upwards, because an HTTP-date would
 * otherwise bring every device back in the same instant; it is capped so a wrong header cannot
 * silence a device for days.
 */
export function retryDelay(
  attempt: number,
  intervalMs: number,
  retryAfterMs: number | undefined,
  random: Random,
): number {
  const backoff = nextDelay(attempt, {
    baseMs: Math.min(RETRY_BASE_MS, intervalMs),
    capMs: intervalMs,
    random,
  });
  if (retryAfterMs === undefined) return backoff;
  const cap = Math.max(intervalMs, RETRY_AFTER_CAP_MS);
  const spread = Math.round(clampUnit(random()) * POLL_JITTER_FRACTION * retryAfterMs);
  return Math.min(cap, Math.max(backoff, retryAfterMs + spread));
}

/**
 * Polling counts as stalled when the last success is older than two intervals plus the backoff cap
 * (which is the interval): one missed poll is normal, three in a row are not.
 */
export function staleAfterMs(intervalMs: number): number {
  return 2 * intervalMs + intervalMs;
}

function clampUnit(r: number): number {
  return Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
}
