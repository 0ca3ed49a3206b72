/**
 * Node's timers hold a signed 32-bit delay: anything above 2^31-1 ms (about 24.8 days) fires after
 * 1 ms instead, so a poll interval of 30 days would poll hundreds of times a second. Every delay
 * bosun hands to a timer goes through clampDelay; a timer that fires early only wakes its owner,
 * which looks again and sleeps on.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The delay a timer can really wait: 0 for negative or NaN, at most MAX_TIMER_DELAY_MS. */
export function clampDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return Math.min(ms, MAX_TIMER_DELAY_MS);
}

/** setTimeout with the delay clamped (see clampDelay). */
export function setClampedTimeout(callback: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(callback, clampDelay(ms));
}
