/**
 * Where a container's log stands, at the engine's own precision: `<seconds>.<9 digits>` since
 * the epoch. Docker stamps every line with a nanosecond RFC 3339 time and takes this very form as
 * `since`, so a follow resumes exactly after the last line shipped, which milliseconds (two
 * lines in the same millisecond are common) could not say.
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const CURSOR = /^(\d{1,15})\.(\d{9})$/;

/** The cursor of an RFC 3339 time with up to nanosecond precision; undefined when malformed. */
export function cursorFromRfc3339(text: string): string | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const ms = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(ms) || ms < 0) return undefined;
  return `${Math.floor(ms / 1000)}.${(match[2] ?? '').padEnd(9, '0')}`;
}

/** The cursor of a time in ms plus `extraNanos` (0..999999) within that millisecond. */
export function cursorFromMs(ms: number, extraNanos = 0): string {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000 + extraNanos;
  return `${seconds}.${String(nanos).padStart(9, '0')}`;
}

/** The cursor's time in ms (rounded down). */
export function cursorToMs(cursor: string): number {
  const match = CURSOR.exec(cursor);
  if (!match) throw new RangeError(`not a log cursor: ${JSON.stringify(cursor)}`);
  return Number(match[1]) * 1000 + Math.floor(Number(match[2]) / 1_000_000);
}

export function isCursor(value: unknown): value is string {
  return typeof value === 'string' && CURSOR.test(value);
}

/** Negative, zero or positive as `a` is before, at or after `b`. */
export function compareCursors(a: string, b: string): number {
  const [aSeconds = '', aNanos = ''] = a.split('.');
  const [bSeconds = '', bNanos = ''] = b.split('.');
  if (aSeconds.length !== bSeconds.length) return aSeconds.length - bSeconds.length;
  if (aSeconds !== bSeconds) return aSeconds < bSeconds ? -1 : 1;
  return aNanos === bNanos ? 0 : aNanos < bNanos ? -1 : 1;
}

/** The cursor `seconds` earlier (not before the epoch). */
export function cursorMinusSeconds(cursor: string, seconds: number): string {
  const [whole = '0', nanos = '000000000'] = cursor.split('.');
  return `${Math.max(0, Number(whole) - seconds)}.${nanos}`;
}
