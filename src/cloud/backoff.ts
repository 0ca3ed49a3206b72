/**
 * Retry timing, kept pure so it can be table-tested: no clock and no randomness of its own (both
 * are passed in).
 */

export interface BackoffOptions {
  /** The ceiling of the first retry's window. */
  baseMs: number;
  /** No window grows past this. */
  capMs: number;
  /** Uniform in [0, 1); Math.random when absent. Injected by tests. */
  random?: () => number;
}

/**
 * Capped exponential backoff with FULL jitter (AWS architecture blog, "Exponential Backoff And
 * Jitter"): the delay is uniform in [0, min(cap, base * 2^(attempt-1))]. Full jitter spreads a
 * fleet that failed together across the whole window instead of clumping it at the window's edge.
 *
 * @param attempt how many attempts have failed so far (1 for the first retry).
 */
export function nextDelay(attempt: number, opts: BackoffOptions): number {
  if (!Number.isInteger(attempt) || attempt < 1) {
    throw new RangeError(`backoff attempt must be a whole number >= 1, got ${attempt}`);
  }
  if (!(opts.baseMs >= 0) || !(opts.capMs >= 0) || !Number.isFinite(opts.capMs)) {
    throw new RangeError(
      `backoff baseMs and capMs must be finite and >= 0 (got ${opts.baseMs}, ${opts.capMs})`,
    );
  }
  // 2 ** 1100 is Infinity, which Math.min turns back into the cap: no overflow to guard.
  const window = Math.min(opts.capMs, opts.baseMs * 2 ** (attempt - 1));
  const r = (opts.random ?? Math.random)();
  const unit = Number.isFinite(r) ? Math.min(1, Math.max(0, r)) : 0;
  return Math.round(unit * window);
}

/**
 * The longest a server's Retry-After is obeyed (unless the caller's own cadence is longer): a
 * wrong or hostile header must not silence a device for days.
 */
export const RETRY_AFTER_CAP_MS = 15 * 60_000;

const DELTA_SECONDS = /^\d+$/;
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
/** The three HTTP-date forms of RFC 9110 section 5.6.7, checked before Date.parse (which is lax). */
const HTTP_DATE = [
  new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`), // IMF-fixdate
  new RegExp(`^${LONG_DAY}, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`), // obsolete RFC 850
  new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`), // obsolete asctime
];

/**
 * A Retry-After header in milliseconds from `now`, or undefined when absent or malformed.
 * Delta-seconds are SECONDS ("2" is 2000 ms; balena-supervisor read them as milliseconds). A date
 * in the past means "now" (0).
 */
export function parseRetryAfter(header: string | undefined, now: Date): number | undefined {
  if (header === undefined) return undefined;
  const value = header.trim();
  if (value === '') return undefined;
  if (DELTA_SECONDS.test(value)) {
    const ms = Number(value) * 1000;
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  if (!HTTP_DATE.some((form) => form.test(value))) return undefined;
  // asctime has no zone and means GMT; Date.parse would read it as local time.
  const at = Date.parse(value.endsWith('GMT') ? value : `${value} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}
