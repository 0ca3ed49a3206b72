import { describe, it, expect } from '@jest/globals';
import { firstPollDelay, pollDelay, retryDelay, staleAfterMs } from '../../../src/cloud/poll-schedule.js';

const fixed = (r: number) => () => r;

describe('cloud/poll-schedule', () => {
  it.each([
    [60000, 0, 60000],
    [60000, 0.5, 63000],
    [60000, 1, 66000],
    [1000, 0.999, 1100],
  ])('pollDelay(%i, random %f) = %i: interval plus up to 10%%', (interval, r, expected) => {
    expect(pollDelay(interval, fixed(r))).toBe(expected);
  });

  it.each([
    [900000, 1, 10000], // capped at 10 s however long the interval
    [900000, 0.5, 5000],
    [60000, 1, 6000],
    [1000, 0, 0],
  ])('firstPollDelay(%i, random %f) = %i', (interval, r, expected) => {
    expect(firstPollDelay(interval, fixed(r))).toBe(expected);
  });

  it.each<[number, number, number | undefined, number, number]>([
    // attempt, interval, retryAfter, random, expected
    [1, 60000, undefined, 1, 1000],
    [3, 60000, undefined, 1, 4000],
    [10, 60000, undefined, 1, 60000], // capped at the interval
    [10, 60000, undefined, 0.5, 30000],
    [1, 200, undefined, 1, 200], // base shrinks to a short interval
    [1, 200, 2000, 0, 2000], // Retry-After wins over a small backoff
    [1, 200, 2000, 1, 2200], // and is spread up to 10% upwards
    [6, 60000, 2000, 1, 32000], // a larger backoff wins over Retry-After
    [1, 60000, 86_400_000, 0, 900000], // a day is capped to 15 minutes
    [1, 3_600_000, 86_400_000, 0, 3_600_000], // or to the interval when that is longer
  ])('retryDelay(attempt %i, interval %i, retryAfter %p, random %f) = %i', (a, i, ra, r, expected) => {
    expect(retryDelay(a, i, ra, fixed(r))).toBe(expected);
  });

  it('counts polling as stalled after three intervals', () => {
    expect(staleAfterMs(1000)).toBe(3000);
  });
});
