/**
 * Policy durations (contract section 10): whole milliseconds (`90000`) or a number with a unit
 * `ms`, `s`, `m`, `h` or `d` (`90s`, `30m`, `2h`). Units are case-insensitive, whitespace around
 * the value is allowed, none inside it. A number with a unit may have decimals when the result is
 * a whole number of milliseconds (`1.5h`, `0.25s`; not `0.5ms`); a bare number is whole ms.
 * `0` is valid (probation 0 turns rollback off). Pure: no clock, no I/O.
 */
import { PolicyValueError, quoted } from './errors.js';

/**
 * The longest policy duration: no policy needs more (a lock deadline or a probation is minutes or
 * hours), so a larger value is a typo (`90000m`) better refused than obeyed. Note that 30 days is
 * ABOVE Node's timer limit of 2^31-1 ms (about 24.8 days): a delay derived from a duration must go
 * through clampDelay (src/util/timers.ts), whose early wake-up makes its owner look again.
 */
export const MAX_POLICY_DURATION_MS = 30 * 24 * 60 * 60 * 1000;
const MAX_TEXT = `${MAX_POLICY_DURATION_MS / 86_400_000}d`;

const UNIT_MS: Record<string, bigint> = { ms: 1n, s: 1000n, m: 60_000n, h: 3_600_000n, d: 86_400_000n };
const SYNTAX = /^(\d+)(?:\.(\d+))?(ms|s|m|h|d)?$/i;

export function parsePolicyDuration(text: string): number {
  const expected = `expected a duration such as 90000, 90s, 30m or 2h (at most ${MAX_TEXT}), got ${quoted(text)}`;
  const match = text.length <= 100 ? SYNTAX.exec(text.trim()) : null;
  if (!match) throw new PolicyValueError(expected);
  const [, whole, fraction = '', unit] = match;
  if (unit === undefined && fraction !== '') throw new PolicyValueError(expected);
  // Exact decimal arithmetic: 1.1h must be 3960000 ms, not a float near it.
  const scaled = BigInt(whole + fraction) * UNIT_MS[(unit ?? 'ms').toLowerCase()];
  const divisor = 10n ** BigInt(fraction.length);
  if (scaled % divisor !== 0n) {
    throw new PolicyValueError(`expected a whole number of milliseconds, got ${quoted(text)}`);
  }
  const ms = scaled / divisor;
  if (ms > BigInt(MAX_POLICY_DURATION_MS)) {
    throw new PolicyValueError(`expected a duration of at most ${MAX_TEXT}, got ${quoted(text)}`);
  }
  return Number(ms);
}
