import { describe, it, expect } from '@jest/globals';
import {
  describeUpdateWindow,
  isWindowOpen,
  nextWindowOpening,
  parseUpdateWindow,
  type UpdateWindowEntry,
} from '../../../src/policy/update-window.js';
import { PolicyValueError } from '../../../src/policy/errors.js';

const open = (text: string, iso: string) => isWindowOpen(parseUpdateWindow(text), new Date(iso));
const next = (text: string, iso: string) =>
  nextWindowOpening(parseUpdateWindow(text), new Date(iso))?.toISOString();

function errorOf(text: string): PolicyValueError {
  try {
    parseUpdateWindow(text);
  } catch (err) {
    if (err instanceof PolicyValueError) return err;
    throw err;
  }
  throw new Error(`parseUpdateWindow(${JSON.stringify(text)}) did not throw`);
}

// Calendar used below: 2025-01-06 is a Monday. DST changes in 2025:
// Europe/Berlin springs forward Sun 30 Mar at 01:00Z (02:00 CET -> 03:00 CEST) and falls back
// Sun 26 Oct at 01:00Z (03:00 CEST -> 02:00 CET); America/New_York springs forward Sun 9 Mar at
// 07:00Z (02:00 EST -> 03:00 EDT) and falls back Sun 2 Nov at 06:00Z (02:00 EDT -> 01:00 EST).

describe('policy/update-window parseUpdateWindow', () => {
  const entry = (days: number[], start: number, end: number, zone = 'UTC'): UpdateWindowEntry =>
    ({ days, start, end, zone }) as UpdateWindowEntry;
  const weekdays = [1, 2, 3, 4, 5];
  const every = [1, 2, 3, 4, 5, 6, 7];

  it.each<[string, UpdateWindowEntry[]]>([
    [
      'Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00',
      [entry(weekdays, 120, 240, 'Europe/Berlin'), entry([6, 7], 0, 360)],
    ],
    ['02:00-04:00', [entry(every, 120, 240)]],
    ['* 02:00-04:00 UTC', [entry(every, 120, 240)]],
    ['mon-FRI 2:00-4:05', [entry(weekdays, 120, 245)]],
    ['MON 23:59-00:00', [entry([1], 1439, 0)]],
    ['Fri-Mon 22:00-02:00', [entry([1, 5, 6, 7], 1320, 120)]],
    ['Sun-Sun 01:00-02:00', [entry([7], 60, 120)]],
    ['Sat-Fri 01:00-02:00', [entry(every, 60, 120)]],
    ['Tue-Mon 01:00-02:00', [entry(every, 60, 120)]],
    ['Mon,Wed,Fri 01:00-02:00', [entry([1, 3, 5], 60, 120)]],
    ['Wed,Mon,Mon,Wed-Wed 01:00-02:00', [entry([1, 3], 60, 120)]],
    ['Mon-Tue,Sat-Sun 01:00-02:00', [entry([1, 2, 6, 7], 60, 120)]],
    ['00:00-24:00', [entry(every, 0, 1440)]],
    ['22:00-00:00', [entry(every, 1320, 0)]],
    ['  Mon - Fri   02:00 - 04:00   Europe/Berlin  ', [entry(weekdays, 120, 240, 'Europe/Berlin')]],
    ['Sat, Sun 00:00-06:00', [entry([6, 7], 0, 360)]],
    [' ; Mon 01:00-02:00 ;; ', [entry([1], 60, 120)]],
    ['Mon 01:00-02:00 america/new_york', [entry([1], 60, 120, 'america/new_york')]],
    ['Mon 01:00-02:00 America/Port-au-Prince', [entry([1], 60, 120, 'America/Port-au-Prince')]],
    [
      'Mon 01:00-02:00 America/Argentina/Buenos_Aires',
      [entry([1], 60, 120, 'America/Argentina/Buenos_Aires')],
    ],
    ['Mon 01:00-02:00 utc', [entry([1], 60, 120, 'utc')]],
  ])('%j', (text, entries) => {
    expect(parseUpdateWindow(text)).toEqual({ entries });
  });

  it.each<[string, string]>([
    ['Mo 02:00-04:00', 'unknown day "Mo", expected Mon, Tue, Wed, Thu, Fri, Sat or Sun'],
    ['Mon-Fry 02:00-04:00', 'unknown day "Fry"'],
    ['Monday 02:00-04:00', 'unknown day "Monday"'],
    ['Mon,,Fri 02:00-04:00', 'unknown day ""'],
    ['Mon- 02:00-04:00', 'unknown day ""'],
    ['Europe/Berlin 02:00-04:00', 'unknown day "Europe/Berlin"'],
    ['Mon-Wed-Fri 02:00-04:00', 'bad day range "Mon-Wed-Fri", expected e.g. Mon-Fri'],
    ['Mon 02:00-04:00 Mars/Olympus', 'unknown time zone "Mars/Olympus"'],
    ['02:00-04:00 +01:00', 'unknown time zone "+01:00"'],
    ['02:00-04:00 Berlin', 'unknown time zone "Berlin"'],
    ['Mon 25:00-04:00', 'bad time "25:00", expected HH:MM from 00:00 to 23:59 (or 24:00 as an end)'],
    ['02:60-03:00', 'bad time "02:60"'],
    ['24:00-02:00', 'bad time "24:00"'],
    ['02:00-24:01', 'bad time "24:01"'],
    ['2:0-03:00', 'bad time "2:0"'],
    ['002:00-03:00', 'bad time "002:00"'],
    ['02:00-3', 'bad time "3"'],
    ['02:00', 'bad time range "02:00", expected HH:MM-HH:MM'],
    ['02:00-03:00-04:00', 'bad time range "02:00-03:00-04:00"'],
    ['02:00-02:00', 'empty update window "02:00-02:00": start and end are the same (write 00:00-24:00'],
    ['00:00-00:00 Europe/Berlin', 'empty update window "00:00-00:00"'],
    ['Mon', 'expected an update window entry "[days] HH:MM-HH:MM [time zone]", got "Mon"'],
    ['0200-0400', 'expected an update window entry'],
    ['Mon Fri 02:00-04:00', 'expected an update window entry'],
    ['02:00-04:00 Europe/Berlin now', 'expected an update window entry'],
    ['', 'expected an update window such as "[days] HH:MM-HH:MM [time zone]", got ""'],
    [' ; ; ', 'expected an update window such as'],
    ['Mon 01:00-02:00; Tue 03:00-99:00', 'bad time "99:00"'],
    ['x'.repeat(3000), 'update window is longer than 2000 characters'],
  ])('rejects %j: %s', (text, message) => {
    const err = errorOf(text);
    expect(err.message).toContain(message);
    expect(err.code).toBe('EPOLICY_VALUE');
  });
});

describe('policy/update-window isWindowOpen', () => {
  it.each<[string, string, boolean]>([
    // UTC, edges: the start is in, the end is out
    ['02:00-04:00', '2025-01-06T01:59:59.999Z', false],
    ['02:00-04:00', '2025-01-06T02:00:00Z', true],
    ['02:00-04:00', '2025-01-06T03:59:59.999Z', true],
    ['02:00-04:00', '2025-01-06T04:00:00Z', false],
    ['02:00-04:00 UTC', '2025-01-11T03:00Z', true],
    // Berlin in winter (+01:00) and summer (+02:00)
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-06T00:59Z', false],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-06T01:00Z', true],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-06T02:59Z', true],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-06T03:00Z', false],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-11T01:30Z', false], // Saturday
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-07-07T00:00Z', true],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-07-07T01:59Z', true],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-07-07T02:00Z', false],
    ['Mon-Fri 02:00-04:00 europe/berlin', '2025-07-07T00:30Z', true],
    // the day is the zone's local day, not UTC's
    ['Mon 09:00-10:00 Asia/Tokyo', '2025-01-06T00:30Z', true],
    ['Mon 09:00-10:00 Asia/Tokyo', '2025-01-05T00:30Z', false],
    ['Mon 09:00-10:00 America/New_York', '2025-01-06T14:30Z', true],
    ['Mon 09:00-10:00 America/New_York', '2025-01-06T09:30Z', false],
    ['Mon 00:00-01:00 Asia/Kolkata', '2025-01-05T18:29Z', false],
    ['Mon 00:00-01:00 Asia/Kolkata', '2025-01-05T18:30Z', true], // Sunday in UTC
    ['Mon 00:00-02:00 Pacific/Kiritimati', '2025-01-05T10:00Z', true], // +14:00
    ['Mon 00:00-02:00 Pacific/Kiritimati', '2025-01-06T10:00Z', false],
    ['Sat 20:00-22:00 Pacific/Honolulu', '2025-01-12T07:00Z', true], // Sunday in UTC
    // lists and ranges
    ['Mon,Wed,Fri 10:00-11:00', '2025-01-08T10:30Z', true],
    ['Mon,Wed,Fri 10:00-11:00', '2025-01-09T10:30Z', false],
    ['Sat,Sun 00:00-06:00', '2025-01-11T05:59Z', true],
    ['Sat,Sun 00:00-06:00', '2025-01-10T23:59Z', false],
    ['Sat,Sun 00:00-06:00', '2025-01-13T00:30Z', false],
    // across midnight: the day named is the day the window starts
    ['Fri 22:00-02:00', '2025-01-10T21:59Z', false],
    ['Fri 22:00-02:00', '2025-01-10T22:00Z', true],
    ['Fri 22:00-02:00', '2025-01-11T01:59Z', true],
    ['Fri 22:00-02:00', '2025-01-11T02:00Z', false],
    ['Fri 22:00-02:00', '2025-01-11T22:30Z', false],
    ['Fri 22:00-02:00', '2025-01-10T01:00Z', false], // Thursday night's part
    ['Fri-Mon 23:00-01:00', '2025-01-06T23:30Z', true], // Monday
    ['Fri-Mon 23:00-01:00', '2025-01-07T00:30Z', true], // Monday night, on Tuesday
    ['Fri-Mon 23:00-01:00', '2025-01-07T23:30Z', false],
    ['Fri-Mon 23:00-01:00', '2025-01-08T00:30Z', false],
    ['Fri-Mon 23:00-01:00', '2025-01-10T00:30Z', false], // Thursday night
    ['Fri-Mon 23:00-01:00', '2025-01-10T23:30Z', true],
    ['Fri-Mon 23:00-01:00', '2025-01-11T00:30Z', true],
    ['Sun 23:00-01:00', '2025-01-12T23:30Z', true],
    ['Sun 23:00-01:00', '2025-01-13T00:59Z', true], // across the week boundary
    ['Sun 23:00-01:00', '2025-01-13T01:00Z', false],
    ['Sun 23:00-01:00 Europe/Berlin', '2025-01-12T22:00Z', true],
    ['Sun 23:00-01:00 Europe/Berlin', '2025-01-12T23:59Z', true],
    ['Sun 23:00-01:00 Europe/Berlin', '2025-01-13T00:00Z', false],
    ['22:00-00:00', '2025-01-06T23:59:59Z', true],
    ['22:00-00:00', '2025-01-07T00:00Z', false],
    ['Mon 00:00-24:00', '2025-01-06T00:00Z', true],
    ['Mon 00:00-24:00', '2025-01-06T23:59:59.999Z', true],
    ['Mon 00:00-24:00', '2025-01-07T00:00Z', false],
    ['Mon 00:00-24:00', '2025-01-05T23:59Z', false],
    // several entries: open if any is
    ['Mon 02:00-04:00; Mon 03:00-05:00', '2025-01-06T04:30Z', true],
    ['Mon 02:00-04:00; Tue 03:00-05:00', '2025-01-06T04:30Z', false],
  ])('%j at %s: %s', (text, iso, expected) => {
    expect(open(text, iso)).toBe(expected);
  });

  describe('DST in Europe/Berlin', () => {
    it.each<[string, string, boolean]>([
      // spring forward: 02:00-03:00 local does not exist on 30 Mar, so that day's window is skipped
      ['Sun 02:00-03:00 Europe/Berlin', '2025-03-30T00:30Z', false], // 01:30 CET
      ['Sun 02:00-03:00 Europe/Berlin', '2025-03-30T00:59:59Z', false],
      ['Sun 02:00-03:00 Europe/Berlin', '2025-03-30T01:00Z', false], // 03:00 CEST
      ['Sun 02:00-03:00 Europe/Berlin', '2025-04-06T00:00Z', true], // a week later, 02:00 CEST
      ['Sun 02:00-03:00 Europe/Berlin', '2025-03-23T01:00Z', true], // a week before, 02:00 CET
      // a start inside the gap opens when the clocks jump
      ['Sun 02:30-04:00 Europe/Berlin', '2025-03-30T00:59Z', false],
      ['Sun 02:30-04:00 Europe/Berlin', '2025-03-30T01:00Z', true], // 03:00 CEST
      ['Sun 02:30-04:00 Europe/Berlin', '2025-03-30T01:59Z', true],
      ['Sun 02:30-04:00 Europe/Berlin', '2025-03-30T02:00Z', false], // 04:00 CEST
      // an end inside the gap closes when the clocks jump
      ['Sun 01:30-02:30 Europe/Berlin', '2025-03-30T00:30Z', true], // 01:30 CET
      ['Sun 01:30-02:30 Europe/Berlin', '2025-03-30T00:59Z', true],
      ['Sun 01:30-02:30 Europe/Berlin', '2025-03-30T01:00Z', false],
      ['Sat 23:00-02:30 Europe/Berlin', '2025-03-30T00:59Z', true],
      ['Sat 23:00-02:30 Europe/Berlin', '2025-03-30T01:00Z', false],
      // fall back: 02:00-03:00 local happens twice on 26 Oct; the window spans both passes
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-25T23:59Z', false], // 01:59 CEST
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T00:00Z', true], // 02:00 CEST
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T00:59Z', true],
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T01:00Z', true], // 02:00 CET
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T01:59Z', true],
      ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T02:00Z', false], // 03:00 CET
      // a repeated end closes at its first occurrence and the window does not open again
      ['Sun 01:00-02:30 Europe/Berlin', '2025-10-25T23:00Z', true], // 01:00 CEST
      ['Sun 01:00-02:30 Europe/Berlin', '2025-10-26T00:29Z', true],
      ['Sun 01:00-02:30 Europe/Berlin', '2025-10-26T00:30Z', false], // first 02:30
      ['Sun 01:00-02:30 Europe/Berlin', '2025-10-26T01:00Z', false], // 02:00 CET again
      ['Sun 01:00-02:30 Europe/Berlin', '2025-10-26T01:29Z', false],
      // a repeated start opens at its first occurrence; the interval stays whole
      ['Sun 02:30-03:30 Europe/Berlin', '2025-10-26T00:29Z', false],
      ['Sun 02:30-03:30 Europe/Berlin', '2025-10-26T00:30Z', true], // first 02:30
      ['Sun 02:30-03:30 Europe/Berlin', '2025-10-26T01:00Z', true], // 02:00 CET, inside the interval
      ['Sun 02:30-03:30 Europe/Berlin', '2025-10-26T02:29Z', true], // 03:29 CET
      ['Sun 02:30-03:30 Europe/Berlin', '2025-10-26T02:30Z', false],
      // a day-long window is 23 and 25 real hours on those days
      ['Sun 00:00-24:00 Europe/Berlin', '2025-03-29T22:59Z', false],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-03-29T23:00Z', true],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-03-30T21:59Z', true],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-03-30T22:00Z', false],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-10-25T21:59Z', false],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-10-25T22:00Z', true],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-10-26T22:59Z', true],
      ['Sun 00:00-24:00 Europe/Berlin', '2025-10-26T23:00Z', false],
    ])('%j at %s: %s', (text, iso, expected) => {
      expect(open(text, iso)).toBe(expected);
    });
  });

  describe('DST in America/New_York', () => {
    it.each<[string, string, boolean]>([
      // spring forward: 02:00-03:00 local does not exist on 9 Mar
      ['Sun 02:00-03:00 America/New_York', '2025-03-09T06:30Z', false], // 01:30 EST
      ['Sun 02:00-03:00 America/New_York', '2025-03-09T07:00Z', false], // 03:00 EDT
      ['Sun 02:00-03:00 America/New_York', '2025-03-16T06:00Z', true], // 02:00 EDT a week later
      ['Sun 02:15-05:00 America/New_York', '2025-03-09T06:59Z', false],
      ['Sun 02:15-05:00 America/New_York', '2025-03-09T07:00Z', true],
      ['Sun 02:15-05:00 America/New_York', '2025-03-09T08:59Z', true], // 04:59 EDT
      ['Sun 02:15-05:00 America/New_York', '2025-03-09T09:00Z', false],
      ['Sat 23:00-02:30 America/New_York', '2025-03-09T04:00Z', true], // Sat 23:00 EST
      ['Sat 23:00-02:30 America/New_York', '2025-03-09T06:59Z', true],
      ['Sat 23:00-02:30 America/New_York', '2025-03-09T07:00Z', false],
      // fall back: 01:00-02:00 local happens twice on 2 Nov
      ['Sun 01:00-02:00 America/New_York', '2025-11-02T04:59Z', false],
      ['Sun 01:00-02:00 America/New_York', '2025-11-02T05:00Z', true], // 01:00 EDT
      ['Sun 01:00-02:00 America/New_York', '2025-11-02T06:30Z', true], // 01:30 EST
      ['Sun 01:00-02:00 America/New_York', '2025-11-02T06:59Z', true],
      ['Sun 01:00-02:00 America/New_York', '2025-11-02T07:00Z', false], // 02:00 EST
      ['Sun 01:30-01:45 America/New_York', '2025-11-02T05:30Z', true],
      ['Sun 01:30-01:45 America/New_York', '2025-11-02T05:45Z', false],
      ['Sun 01:30-01:45 America/New_York', '2025-11-02T06:30Z', false], // 01:30 EST: not again
      ['Sat 22:00-01:30 America/New_York', '2025-11-02T02:00Z', true], // Sat 22:00 EDT
      ['Sat 22:00-01:30 America/New_York', '2025-11-02T05:29Z', true],
      ['Sat 22:00-01:30 America/New_York', '2025-11-02T05:30Z', false],
      ['Sat 22:00-01:30 America/New_York', '2025-11-02T06:15Z', false], // 01:15 EST
    ])('%j at %s: %s', (text, iso, expected) => {
      expect(open(text, iso)).toBe(expected);
    });
  });
});

describe('policy/update-window nextWindowOpening', () => {
  const berlin = 'Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00';

  it.each<[string, string, string | undefined]>([
    // open now: now itself, to the millisecond
    [berlin, '2025-01-06T01:30:15.123Z', '2025-01-06T01:30:15.123Z'],
    ['Fri 22:00-02:00', '2025-01-11T01:00Z', '2025-01-11T01:00:00.000Z'],
    // before today's window
    ['02:00-04:00', '2025-01-06T00:00Z', '2025-01-06T02:00:00.000Z'],
    ['02:00-04:00', '2025-01-06T01:59:59.999Z', '2025-01-06T02:00:00.000Z'],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-06T00:00Z', '2025-01-06T01:00:00.000Z'],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-07-06T23:00Z', '2025-07-07T00:00:00.000Z'],
    // after today's window: tomorrow, or after the weekend
    ['02:00-04:00', '2025-01-06T04:00Z', '2025-01-07T02:00:00.000Z'],
    ['Mon-Fri 02:00-04:00 Europe/Berlin', '2025-01-10T05:00Z', '2025-01-13T01:00:00.000Z'],
    // across the week boundary
    ['Mon 02:00-03:00', '2025-01-06T03:00Z', '2025-01-13T02:00:00.000Z'],
    ['Mon 00:00-01:00', '2025-01-12T23:59:30Z', '2025-01-13T00:00:00.000Z'],
    ['Sun 23:00-01:00', '2025-01-13T01:00Z', '2025-01-19T23:00:00.000Z'],
    ['Sat,Sun 00:00-06:00', '2025-01-12T06:00Z', '2025-01-18T00:00:00.000Z'],
    ['Fri-Mon 23:00-01:00', '2025-01-07T12:00Z', '2025-01-10T23:00:00.000Z'],
    // local days in other zones
    ['Mon 09:00-10:00 Asia/Tokyo', '2025-01-05T12:00Z', '2025-01-06T00:00:00.000Z'],
    ['Mon 00:00-01:00 Asia/Kolkata', '2025-01-05T12:00Z', '2025-01-05T18:30:00.000Z'],
    ['Mon 09:00-10:00 America/New_York', '2025-01-06T15:00Z', '2025-01-13T14:00:00.000Z'],
    // several entries: the earliest opening wins, whatever their order
    [berlin, '2025-01-10T12:00Z', '2025-01-11T00:00:00.000Z'],
    [berlin, '2025-01-12T07:00Z', '2025-01-13T01:00:00.000Z'],
    [
      'Sat,Sun 00:00-06:00; Mon-Fri 02:00-04:00 Europe/Berlin',
      '2025-01-12T07:00Z',
      '2025-01-13T01:00:00.000Z',
    ],
    ['Wed 10:00-11:00; Tue 10:00-11:00; Thu 10:00-11:00', '2025-01-06T12:00Z', '2025-01-07T10:00:00.000Z'],
    [
      'Mon 02:00-04:00 America/New_York; Mon 02:00-04:00 Asia/Tokyo',
      '2025-01-05T12:00Z',
      '2025-01-05T17:00:00.000Z',
    ],
    // DST, Europe/Berlin
    ['02:00-03:00 Europe/Berlin', '2025-03-29T12:00Z', '2025-03-31T00:00:00.000Z'], // Sunday skipped
    ['Sun 02:00-03:00 Europe/Berlin', '2025-03-29T12:00Z', '2025-04-06T00:00:00.000Z'],
    ['Sun 02:30-04:00 Europe/Berlin', '2025-03-30T00:00Z', '2025-03-30T01:00:00.000Z'], // when clocks jump
    ['Sun 02:00-03:00 Europe/Berlin', '2025-10-25T12:00Z', '2025-10-26T00:00:00.000Z'], // first 02:00
    ['Sun 02:00-03:00 Europe/Berlin', '2025-10-26T01:30Z', '2025-10-26T01:30:00.000Z'], // open, 2nd pass
    ['Sun 01:00-02:30 Europe/Berlin', '2025-10-26T00:40Z', '2025-11-02T00:00:00.000Z'], // not again
    ['Sun 03:00-04:00 Europe/Berlin', '2025-10-26T00:30Z', '2025-10-26T02:00:00.000Z'], // 03:00 CET
    // DST, America/New_York
    ['Sun 02:00-03:00 America/New_York', '2025-03-08T12:00Z', '2025-03-16T06:00:00.000Z'],
    ['Sun 02:15-05:00 America/New_York', '2025-03-09T05:00Z', '2025-03-09T07:00:00.000Z'],
    ['Sun 01:30-01:45 America/New_York', '2025-11-02T05:50Z', '2025-11-09T06:30:00.000Z'],
    ['Sun 01:00-02:00 America/New_York', '2025-11-01T12:00Z', '2025-11-02T05:00:00.000Z'],
    ['Sun 03:00-04:00 America/New_York', '2025-11-02T05:00Z', '2025-11-02T08:00:00.000Z'], // 03:00 EST
    // a day that never was: Samoa skipped Friday 30 Dec 2011 (24-hour gap)
    ['Fri 10:00-11:00 Pacific/Apia', '2011-12-29T12:00Z', '2012-01-05T20:00:00.000Z'],
    ['Thu 23:00-01:00 Pacific/Apia', '2011-12-30T09:59Z', '2011-12-30T09:59:00.000Z'], // open up to the jump
  ])('%j from %s: %s', (text, iso, expected) => {
    expect(next(text, iso)).toBe(expected);
  });

  it('agrees with isWindowOpen: open at the answer, closed the minute before, for many instants', () => {
    const windows = [
      berlin,
      'Fri-Mon 23:00-01:00 America/New_York',
      'Sun 02:00-03:00 Europe/Berlin; Sun 01:30-02:30 America/New_York',
      'Sat 01:15-01:20 Australia/Lord_Howe', // half-hour DST shift
      '*  12:00-12:01 Asia/Kathmandu',
    ];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const from = Date.parse('2025-01-01T00:00Z');
    for (let i = 0; i < 300; i++) {
      const window = parseUpdateWindow(windows[i % windows.length]);
      const now = new Date(from + Math.floor(random() * 365 * 86_400_000));
      const opening = nextWindowOpening(window, now);
      expect(opening).toBeDefined();
      const t = opening!.getTime();
      expect(t).toBeGreaterThanOrEqual(now.getTime());
      expect(t - now.getTime()).toBeLessThanOrEqual(8 * 86_400_000);
      expect(isWindowOpen(window, opening!)).toBe(true);
      if (t > now.getTime()) {
        expect(t % 60_000).toBe(0);
        expect(isWindowOpen(window, new Date(Math.max(t - 60_000, now.getTime())))).toBe(false);
      }
    }
  });

  it('does not change the window or the date it is given', () => {
    const window = parseUpdateWindow(berlin);
    const copy = structuredClone(window);
    const now = new Date('2025-01-10T12:00Z');
    nextWindowOpening(window, now);
    isWindowOpen(window, now);
    expect(window).toEqual(copy);
    expect(now.toISOString()).toBe('2025-01-10T12:00:00.000Z');
    expect(nextWindowOpening(window, new Date('2025-01-06T01:30Z'))).not.toBe(now);
  });
});

describe('policy/update-window describeUpdateWindow', () => {
  it.each<[string, string]>([
    [
      'Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00',
      'Mon-Fri 02:00-04:00 Europe/Berlin; Sat,Sun 00:00-06:00 UTC',
    ],
    ['2:00-4:00', '* 02:00-04:00 UTC'],
    ['Fri-Mon 22:00-02:00', 'Mon,Fri-Sun 22:00-02:00 UTC'],
    ['Mon,Tue,Wed,Fri 00:00-24:00', 'Mon-Wed,Fri 00:00-24:00 UTC'],
    ['sun 23:59-00:00', 'Sun 23:59-00:00 UTC'],
  ])('%j -> %j', (text, described) => {
    expect(describeUpdateWindow(parseUpdateWindow(text))).toBe(described);
    expect(parseUpdateWindow(described)).toEqual(parseUpdateWindow(text.replace(/UTC$/, '')));
  });
});
