import { describe, expect, it } from '@jest/globals';
import { LogBuffer } from '../../../src/logs/buffer.js';
import { Ring } from '../../../src/logs/ring.js';

describe('logs/ring', () => {
  it('keeps at most its capacity, evicting the oldest, and puts items back at the front in order', () => {
    const ring = new Ring<number>(3);
    expect([1, 2, 3].map((n) => ring.push(n))).toEqual([undefined, undefined, undefined]);
    expect(ring.push(4)).toBe(1);
    expect(ring.toArray()).toEqual([2, 3, 4]);
    expect([ring.shift(), ring.shift()]).toEqual([2, 3]);
    ring.unshiftAll([8, 9]);
    expect(ring.toArray()).toEqual([8, 9, 4]);
    expect(() => ring.unshiftAll([1])).toThrow(RangeError);
    expect(() => new Ring(0)).toThrow(RangeError);
  });
});

describe('logs/buffer', () => {
  it('drops the oldest unsent lines beyond its capacity and counts them', () => {
    const buffer = new LogBuffer<number>(3);
    for (let n = 1; n <= 5; n += 1) buffer.push(n);
    expect(buffer.unsent).toBe(3);
    expect(buffer.droppedCount).toBe(2);
    expect(buffer.take(10)).toEqual([3, 4, 5]);
    expect(buffer.takeDropped()).toBe(2);
    expect(buffer.droppedCount).toBe(0);
  });

  it('counts a batch in flight against the capacity; a returned batch goes first again', () => {
    const buffer = new LogBuffer<number>(4);
    [1, 2, 3].forEach((n) => buffer.push(n));
    expect(buffer.take(2)).toEqual([1, 2]);
    expect(() => buffer.take(1)).toThrow(/in flight/);
    buffer.push(4); // 2 in flight + 2 waiting: full
    buffer.push(5); // drops 3, the oldest waiting line
    expect(buffer.unsent).toBe(4);
    expect(buffer.droppedCount).toBe(1);
    buffer.returned();
    expect(buffer.take(10)).toEqual([1, 2, 4, 5]);
    buffer.delivered();
    expect(buffer.unsent).toBe(0);
  });

  it('drops the new line when every held line is in flight', () => {
    const buffer = new LogBuffer<number>(2);
    [1, 2].forEach((n) => buffer.push(n));
    buffer.take(5);
    buffer.push(3);
    expect(buffer.droppedCount).toBe(1);
    buffer.returned();
    expect(buffer.take(5)).toEqual([1, 2]);
  });

  it('takes a batch within a weight, always at least one line', () => {
    const buffer = new LogBuffer<string>(10);
    ['aaaa', 'bb', 'cccccc', 'd'].forEach((s) => buffer.push(s));
    expect(buffer.take(10, (s) => s.length, 6)).toEqual(['aaaa', 'bb']);
    buffer.delivered();
    expect(buffer.take(10, (s) => s.length, 3)).toEqual(['cccccc']);
    buffer.discarded();
    expect(buffer.droppedCount).toBe(1);
    expect(buffer.take(10)).toEqual(['d']);
  });
});

describe('logs/ring growth', () => {
  it('grows as items come, keeps their order across the wrap, and stops at the capacity', () => {
    const ring = new Ring<number>(1000);
    for (let n = 0; n < 50; n += 1) ring.push(n);
    for (let n = 0; n < 40; n += 1) ring.shift(); // head well inside the first array
    for (let n = 50; n < 1500; n += 1) ring.push(n);
    expect(ring.length).toBe(1000);
    expect(ring.toArray()).toEqual(Array.from({ length: 1000 }, (_, i) => i + 500));
    ring.shift();
    ring.unshiftAll([-1]);
    expect(ring.peek()).toBe(-1);
  });
});
