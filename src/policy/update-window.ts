/**
 * Update windows (contract section 10): `Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00`.
 * Entries are split by `;`, each `[days] HH:MM-HH:MM [IANA time zone]`:
 * - days: `Mon`..`Sun` (any case), lists (`Sat,Sun`), ranges (`Mon-Fri`, wrapping `Fri-Mon`), `*`
 *   or nothing for every day. The day named is the local day the window STARTS.
 * - times: `HH:MM` (hour 0-23); the end may also be `24:00` (midnight at the end of the day). An
 *   end before the start runs past midnight (`Fri 22:00-02:00` ends Saturday 02:00). A start equal
 *   to the end is refused as ambiguous (empty or 24h?): write `00:00-24:00` for a whole day.
 * - zone: any zone luxon accepts (`UTC`, `Europe/Berlin`, any case); UTC when left out.
 *
 * Each day's window is one continuous interval, from the first instant the zone's clock reads the
 * start time (or later) to the first instant it reads the end time (or later). So, at the DST
 * changes (decided once, for every zone):
 * - clocks spring forward (Berlin: 02:00 -> 03:00): a start or end inside the skipped hour falls
 *   on the instant the clocks jump; `02:30-04:00` opens at 03:00, and `02:00-03:00` (wholly
 *   inside the gap) is empty and skipped that day;
 * - clocks fall back (Berlin: 03:00 -> 02:00): a repeated time counts at its first occurrence;
 *   `02:00-03:00` lasts two real hours (both passes), `01:00-02:30` closes at the first 02:30 and
 *   does not open again when the clock repeats 02:00-02:30, and `02:30-03:30` runs from the first
 *   02:30 to 03:30 without a break (so also while the repeated clock reads 02:00-02:30).
 * A window therefore never closes and reopens within one day's occurrence.
 * Pure: `now` is always passed in; zone offsets, clock readings and calendar steps come from luxon.
 */
import { DateTime, IANAZone } from 'luxon';
import { PolicyValueError, quoted } from './errors.js';

/** Weekdays as luxon and ISO 8601 number them: 1 = Monday .. 7 = Sunday. */
export type Weekday = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export interface UpdateWindowEntry {
  /** The local days on which the window starts, ascending, without repeats. */
  readonly days: readonly Weekday[];
  /** Minutes after local midnight: start 0..1439, end 0..1440; end < start runs past midnight. */
  readonly start: number;
  readonly end: number;
  /** An IANA zone name as written (luxon reads names in any case). */
  readonly zone: string;
}

export interface UpdateWindow {
  readonly entries: readonly UpdateWindowEntry[];
}

/** How far nextWindowOpening looks: every week-based window opens within 7 days, DST skips aside. */
const SEARCH_DAYS = 8;
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const ALL_DAYS: readonly Weekday[] = [1, 2, 3, 4, 5, 6, 7];
const FORMAT = '"[days] HH:MM-HH:MM [time zone]"';
const MINUTE_MS = 60_000;

export function parseUpdateWindow(text: string): UpdateWindow {
  if (text.length > 2000) throw new PolicyValueError('update window is longer than 2000 characters');
  const parts = text.split(';').map((part) => part.trim());
  const entries = parts.filter((part) => part !== '').map(parseEntry);
  if (entries.length === 0) {
    throw new PolicyValueError(`expected an update window such as ${FORMAT}, got ${quoted(text)}`);
  }
  return { entries };
}

function parseEntry(entry: string): UpdateWindowEntry {
  // `Mon - Fri 02:00 - 04:00` and `Sat, Sun` read as `Mon-Fri 02:00-04:00` and `Sat,Sun`.
  const tokens = entry
    .replace(/\s*,\s*/g, ',')
    .replace(/(\d)\s*-\s*(\d)|([a-z])\s*-\s*([a-z])/gi, '$1$3-$2$4')
    .split(/\s+/);
  const at = tokens.findIndex((token) => token.includes(':'));
  const daysTokens = tokens.slice(0, Math.max(at, 0));
  const zoneTokens = tokens.slice(at + 1);
  if (at < 0 || daysTokens.length > 1 || zoneTokens.length > 1) {
    throw new PolicyValueError(`expected an update window entry ${FORMAT}, got ${quoted(entry)}`);
  }
  const range = /^([^-]*)-([^-]*)$/.exec(tokens[at]);
  if (!range) throw new PolicyValueError(`bad time range ${quoted(tokens[at])}, expected HH:MM-HH:MM`);
  const start = parseTime(range[1], false);
  const end = parseTime(range[2], true);
  if (start === end) {
    throw new PolicyValueError(
      `empty update window ${quoted(tokens[at])}: start and end are the same (write 00:00-24:00 for a whole day)`,
    );
  }
  const zone = zoneTokens[0] ?? 'UTC';
  if (!IANAZone.isValidZone(zone)) throw new PolicyValueError(`unknown time zone ${quoted(zone)}`);
  return { days: parseDays(daysTokens[0] ?? '*'), start, end, zone };
}

function parseTime(text: string, isEnd: boolean): number {
  const match = /^(\d{1,2}):(\d{2})$/.exec(text);
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  const midnight = isEnd && hours === 24 && minutes === 0;
  if (!match || ((hours > 23 || minutes > 59) && !midnight)) {
    throw new PolicyValueError(
      `bad time ${quoted(text)}, expected HH:MM from 00:00 to 23:59 (or 24:00 as an end)`,
    );
  }
  return hours * 60 + minutes;
}

function parseDays(text: string): Weekday[] {
  if (text === '*') return [...ALL_DAYS];
  const days = new Set<Weekday>();
  for (const item of text.split(',')) {
    const [first, last, extra] = item.split('-');
    if (extra !== undefined)
      throw new PolicyValueError(`bad day range ${quoted(item)}, expected e.g. Mon-Fri`);
    const from = parseDay(first);
    const to = last === undefined ? from : parseDay(last);
    // A range may wrap past Sunday: Fri-Mon is Fri, Sat, Sun, Mon.
    for (let day = from; ; day = ((day % 7) + 1) as Weekday) {
      days.add(day);
      if (day === to) break;
    }
  }
  return [...days].sort((a, b) => a - b);
}

function parseDay(text: string): Weekday {
  const index = DAY_NAMES.findIndex((name) => name.toLowerCase() === text.toLowerCase());
  if (index < 0)
    throw new PolicyValueError(`unknown day ${quoted(text)}, expected Mon, Tue, Wed, Thu, Fri, Sat or Sun`);
  return (index + 1) as Weekday;
}

/** Whether an update may start at `now`. */
export function isWindowOpen(window: UpdateWindow, now: Date): boolean {
  const at = now.getTime();
  return window.entries.some((entry) =>
    occurrences(entry, at, -1, 1).some((interval) => interval.opens <= at && at < interval.closes),
  );
}

/**
 * The first instant at or after `now` at which the window is open: `now` itself when it is open,
 * undefined when it does not open within 8 days (a window whose only day is skipped by DST).
 */
export function nextWindowOpening(window: UpdateWindow, now: Date): Date | undefined {
  if (isWindowOpen(window, now)) return new Date(now.getTime());
  const at = now.getTime();
  const limit = at + SEARCH_DAYS * 24 * 60 * MINUTE_MS;
  const openings = window.entries
    .flatMap((entry) => occurrences(entry, at, -1, SEARCH_DAYS))
    .map((interval) => interval.opens)
    .filter((opens) => opens >= at && opens <= limit);
  return openings.length === 0 ? undefined : new Date(Math.min(...openings));
}

/** The window in canonical form, for messages: `Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00 UTC`. */
export function describeUpdateWindow(window: UpdateWindow): string {
  return window.entries
    .map((entry) => `${describeDays(entry.days)} ${clock(entry.start)}-${clock(entry.end)} ${entry.zone}`)
    .join('; ');
}

function describeDays(days: readonly Weekday[]): string {
  if (days.length === 7) return '*';
  const runs: Weekday[][] = [];
  for (const day of days) {
    const run = runs.at(-1);
    if (run && run.at(-1) === day - 1) run.push(day);
    else runs.push([day]);
  }
  const name = (day: Weekday) => DAY_NAMES[day - 1];
  return runs
    .map((run) => (run.length > 2 ? `${name(run[0])}-${name(run.at(-1)!)}` : run.map(name).join(',')))
    .join(',');
}

function clock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

interface Interval {
  opens: number;
  closes: number;
}

/** The entry's non-empty intervals starting on the local days `from`..`to` relative to the local date of `at`. */
function occurrences(entry: UpdateWindowEntry, at: number, from: number, to: number): Interval[] {
  const today = DateTime.fromMillis(at, { zone: entry.zone }).startOf('day');
  const intervals: Interval[] = [];
  for (let offset = from; offset <= to; offset++) {
    const day = today.plus({ days: offset });
    if (!entry.days.includes(day.weekday as Weekday)) continue;
    // Clock readings as "floating" local times (a UTC DateTime with the local fields).
    const date = DateTime.fromObject({ year: day.year, month: day.month, day: day.day }, { zone: 'utc' });
    const startReading = date.plus({ minutes: entry.start });
    const endReading = date.plus({ days: entry.end > entry.start ? 0 : 1, minutes: entry.end });
    const opens = firstInstantReading(startReading, entry.zone);
    const closes = firstInstantReading(endReading, entry.zone);
    if (opens < closes) intervals.push({ opens, closes });
  }
  return intervals;
}

/**
 * The first instant at which the zone's clock reads `reading` or later. Luxon alone does not give
 * this: it resolves a repeated time to its later occurrence, and a skipped one by moving it
 * forward by the gap (02:30 -> 03:30, where the clock first reads 02:30 or later at 03:00).
 * Assumes at most one offset change within a day and a half, as every zone's rules do.
 */
function firstInstantReading(reading: DateTime, zone: string): number {
  const floating = reading.toMillis();
  const readAt = (instant: number) =>
    DateTime.fromMillis(instant, { zone }).setZone('utc', { keepLocalTime: true }).toMillis();
  // The real instant is within 14 hours of the floating one; these are the offsets in force around it.
  const offsets = [-36, 0, 36].map(
    (hours) => DateTime.fromMillis(floating + hours * 3_600_000, { zone }).offset * MINUTE_MS,
  );
  const exact = offsets.map((offset) => floating - offset).filter((instant) => readAt(instant) === floating);
  if (exact.length > 0) return Math.min(...exact);
  // Skipped by a spring-forward: the answer is the instant of the jump, found by bisection on
  // whole minutes between the reading under the later offset (too early) and the earlier one.
  let early = floating - Math.max(...offsets);
  let late = floating - Math.min(...offsets);
  while (late - early > MINUTE_MS) {
    const middle = early + Math.floor((late - early) / 2 / MINUTE_MS) * MINUTE_MS;
    if (readAt(middle) >= floating) late = middle;
    else early = middle;
  }
  return late;
}
