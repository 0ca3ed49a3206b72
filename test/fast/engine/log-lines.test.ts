import { describe, expect, it } from '@jest/globals';
import {
  compareCursors,
  cursorFromMs,
  cursorFromRfc3339,
  cursorToMs,
} from '../../../src/engine/log-cursor.js';
import { LogLineSplitter, MAX_LOG_LINE_BYTES } from '../../../src/engine/log-lines.js';
import type { ContainerLogLine } from '../../../src/engine/types.js';

describe('engine/log-cursor', () => {
  it.each([
    ['2026-03-04T05:06:07.123456789Z', '1772600767.123456789'],
    ['2026-03-04T05:06:07Z', '1772600767.000000000'],
    ['2026-03-04T05:06:07.5Z', '1772600767.500000000'],
    ['2026-03-04T06:06:07.000000001+01:00', '1772600767.000000001'],
  ])('reads %s as %s', (text, cursor) => {
    expect(cursorFromRfc3339(text)).toBe(cursor);
  });

  it.each(['', 'nonsense', '2026-03-04 05:06:07Z', '2026-03-04T05:06:07.1234567890Z'])('refuses %j', (text) =>
    expect(cursorFromRfc3339(text)).toBeUndefined(),
  );

  it('orders cursors by time, to the nanosecond, whatever the number of digits of the seconds', () => {
    expect(compareCursors('999999999.999999999', '1000000000.000000000')).toBeLessThan(0);
    expect(compareCursors('1000000000.000000002', '1000000000.000000001')).toBeGreaterThan(0);
    expect(compareCursors('1000000000.000000001', '1000000000.000000001')).toBe(0);
  });

  it('converts to and from milliseconds', () => {
    expect(cursorFromMs(1_772_600_767_123, 45)).toBe('1772600767.123000045');
    expect(cursorToMs('1772600767.123999999')).toBe(1_772_600_767_123);
    expect(() => cursorToMs('12')).toThrow(RangeError);
  });
});

describe('engine/log-lines', () => {
  const collect = (isStderr = false) => {
    const lines: ContainerLogLine[] = [];
    return { lines, splitter: new LogLineSplitter(isStderr, (line) => lines.push(line)) };
  };

  it('splits timestamped lines across chunks, multi-byte characters included', () => {
    const { lines, splitter } = collect(true);
    const text = Buffer.from(
      '2026-03-04T05:06:07.000000001Z héllo\r\n2026-03-04T05:06:07.000000002Z wörld\n',
    );
    const cut = text.indexOf(Buffer.from('é')) + 1; // inside the two bytes of é
    splitter.push(text.subarray(0, cut));
    splitter.push(text.subarray(cut));
    expect(lines).toEqual([
      { message: 'héllo', timestamp: 1_772_600_767_000, isStderr: true, cursor: '1772600767.000000001' },
      { message: 'wörld', timestamp: 1_772_600_767_000, isStderr: true, cursor: '1772600767.000000002' },
    ]);
  });

  it('keeps a last line without a newline for the end, and the previous time for an untimed line', () => {
    const { lines, splitter } = collect();
    splitter.push(Buffer.from('2026-03-04T05:06:07.000000001Z a\nno time here\n2026-03-04T05:06:08.0Z tail'));
    expect(lines.map((l) => [l.message, l.cursor])).toEqual([
      ['a', '1772600767.000000001'],
      ['no time here', '1772600767.000000001'],
    ]);
    splitter.end();
    expect(lines.at(-1)).toMatchObject({ message: 'tail', cursor: '1772600768.000000000' });
  });

  it('cuts a line longer than the limit, so one stream never holds more', () => {
    const { lines, splitter } = collect();
    splitter.push(Buffer.from(`2026-03-04T05:06:07.000000001Z ${'x'.repeat(MAX_LOG_LINE_BYTES * 2)}`));
    expect(lines).toHaveLength(2);
    splitter.end();
    expect(lines).toHaveLength(3);
    expect(lines.map((l) => l.message.length).reduce((a, b) => a + b)).toBe(MAX_LOG_LINE_BYTES * 2);
  });
});
