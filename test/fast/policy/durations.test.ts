import { describe, it, expect } from '@jest/globals';
import { MAX_POLICY_DURATION_MS, parsePolicyDuration } from '../../../src/policy/durations.js';
import { PolicyValueError } from '../../../src/policy/errors.js';
import { BosunError } from '../../../src/util/errors.js';

function errorOf(text: string): PolicyValueError {
  try {
    parsePolicyDuration(text);
  } catch (err) {
    if (err instanceof PolicyValueError) return err;
    throw err;
  }
  throw new Error(`parsePolicyDuration(${JSON.stringify(text)}) did not throw`);
}

describe('policy/durations parsePolicyDuration', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['90000', 90_000],
    ['1', 1],
    ['007', 7],
    ['0ms', 0],
    ['250ms', 250],
    ['90s', 90_000],
    ['0s', 0],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['30d', 2_592_000_000],
    ['720h', 2_592_000_000],
    ['43200m', 2_592_000_000],
    ['2592000000', 2_592_000_000],
    ['2592000000ms', 2_592_000_000],
    ['1.5h', 5_400_000],
    ['1.1h', 3_960_000], // exact, not 1.1 * 3600000 in floating point
    ['0.25s', 250],
    ['0.001s', 1],
    ['2.50m', 150_000],
    ['1.0ms', 1],
    ['0.5d', 43_200_000],
    ['29.5d', 2_548_800_000],
  ])('%j -> %i ms', (text, ms) => {
    expect(parsePolicyDuration(text)).toBe(ms);
  });

  it.each<[string, number]>([
    ['90S', 90_000],
    ['30M', 1_800_000],
    ['2H', 7_200_000],
    ['1D', 86_400_000],
    ['250MS', 250],
    ['250Ms', 250],
    ['  90s  ', 90_000],
    ['\t2h\n', 7_200_000],
    [' 0 ', 0],
  ])('units are case-insensitive and surrounding whitespace is allowed: %j -> %i', (text, ms) => {
    expect(parsePolicyDuration(text)).toBe(ms);
  });

  it.each([
    '',
    '   ',
    'soon',
    '-1',
    '-5s',
    '+5s',
    '5 s',
    '5sec',
    '5min',
    '1w',
    '1y',
    '1h30m',
    '1e3',
    '0x10',
    '.5h',
    '5.h',
    '1.5', // a bare number is whole milliseconds
    '90000.0',
    '1,5h',
    '1_000',
    'Infinity',
    'NaN',
    's',
    'ms',
    '5ss',
    '9'.repeat(120),
  ])('rejects %j, saying what was expected', (text) => {
    const err = errorOf(text);
    expect(err.message).toContain('expected a duration such as 90000, 90s, 30m or 2h (at most 30d), got ');
  });

  it.each(['0.5ms', '1.0005s', '0.0001s', '1.00000001m', '29.999999999d'])(
    'rejects %j: not a whole number of ms',
    (text) => {
      expect(errorOf(text).message).toBe(`expected a whole number of milliseconds, got "${text}"`);
    },
  );

  it.each(['31d', '30.0001d', '2592000001', '2592000001ms', '721h', '99999999999999999999999d'])(
    'rejects %j: more than 30 days',
    (text) => {
      expect(errorOf(text).message).toBe(`expected a duration of at most 30d, got "${text}"`);
    },
  );

  it('quotes what it was given, escaped and cut short', () => {
    expect(errorOf('soon').message).toBe(
      'expected a duration such as 90000, 90s, 30m or 2h (at most 30d), got "soon"',
    );
    expect(errorOf('a"b\n').message).toMatch(/got "a\\"b\\n"$/);
    const long = errorOf('x'.repeat(500)).message;
    expect(long.length).toBeLessThan(200);
    expect(long).toContain('…"');
  });

  it('throws a PolicyValueError with the stable code EPOLICY_VALUE', () => {
    const err = errorOf('soon');
    expect(err).toBeInstanceOf(BosunError);
    expect(err.code).toBe('EPOLICY_VALUE');
    expect(err.name).toBe('PolicyValueError');
    expect(err.transient).toBe(false);
  });

  it('bounds every duration at 30 days', () => {
    expect(MAX_POLICY_DURATION_MS).toBe(30 * 86_400_000);
  });
});
