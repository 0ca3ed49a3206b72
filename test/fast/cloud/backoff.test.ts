import { describe, it, expect } from '@jest/globals';
import { nextDelay, parseRetryAfter } from '../../../src/cloud/backoff.js';

describe('cloud/backoff nextDelay', () => {
  const fixed = (r: number) => () => r;

  it.each([
    // attempt, base, cap, random, expected
    [1, 1000, 60000, 1, 1000],
    [1, 1000, 60000, 0.5, 500],
    [1, 1000, 60000, 0, 0],
    [2, 1000, 60000, 1, 2000],
    [3, 1000, 60000, 1, 4000],
    [3, 1000, 60000, 0.25, 1000],
    [7, 1000, 60000, 1, 60000], // 64000 capped
    [7, 1000, 60000, 0.5, 30000],
    [2000, 1000, 60000, 1, 60000], // 2^1999 is Infinity: still the cap
    [5, 100, 300, 0.999, 300],
    [1, 0, 1000, 1, 0],
  ])('attempt %i base %i cap %i random %f -> %i', (attempt, baseMs, capMs, r, expected) => {
    expect(nextDelay(attempt, { baseMs, capMs, random: fixed(r) })).toBe(expected);
  });

  it('is full jitter: spread over the whole window, never past it', () => {
    const seen = Array.from({ length: 2000 }, () => nextDelay(4, { baseMs: 1000, capMs: 60000 }));
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...seen)).toBeLessThanOrEqual(8000);
    expect(Math.min(...seen)).toBeLessThan(1000);
    expect(Math.max(...seen)).toBeGreaterThan(7000);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(nextDelay(1, { baseMs: 1000, capMs: 5000, random: fixed(7) })).toBe(1000);
    expect(nextDelay(1, { baseMs: 1000, capMs: 5000, random: fixed(-1) })).toBe(0);
    expect(nextDelay(1, { baseMs: 1000, capMs: 5000, random: fixed(Number.NaN) })).toBe(0);
  });

  it.each([[0], [-1], [1.5], [Number.NaN]])('rejects attempt %p', (attempt) => {
    expect(() => nextDelay(attempt, { baseMs: 1, capMs: 1 })).toThrow(RangeError);
  });

  it('rejects a negative base or an infinite cap', () => {
    expect(() => nextDelay(1, { baseMs: -1, capMs: 1 })).toThrow(/baseMs and capMs/);
    expect(() => nextDelay(1, { baseMs: 1, capMs: Number.POSITIVE_INFINITY })).toThrow(/baseMs and capMs/);
  });
});

describe('cloud/backoff parseRetryAfter', () => {
  const now = new Date('2024-03-01T12:00:00Z');

  it.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ['', undefined],
    ['   ', undefined],
    ['2', 2000], // seconds, never milliseconds
    [' 2 ', 2000],
    ['0', 0],
    ['120', 120000],
    ['Fri, 01 Mar 2024 12:00:05 GMT', 5000], // IMF-fixdate
    ['Friday, 01-Mar-24 12:00:30 GMT', 30000], // RFC 850
    ['Fri Mar  1 12:01:00 2024', 60000], // asctime, GMT by definition
    ['Fri, 01 Mar 2024 11:00:00 GMT', 0], // in the past: now
    ['-5', undefined],
    ['1.5', undefined],
    ['2s', undefined],
    ['soon', undefined],
    ['2024-03-01T12:00:05Z', undefined], // ISO is not an HTTP-date
    ['Fri, 01 Mar 2024 12:00:05 PST', undefined],
    ['99999999999999999999', undefined],
  ])('%p -> %p ms', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});
