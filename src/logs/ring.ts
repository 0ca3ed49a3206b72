/**
 * A first-in first-out queue of at most `capacity` items in a fixed array: adding, taking from
 * the front and putting back at the front cost O(1) per item, whatever the length, and memory
 * never grows past the capacity.
 */
export class Ring<T> {
  private readonly slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ring capacity must be a whole number >= 1, got ${capacity}`);
    }
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  /** Adds at the back; when full, the oldest item makes room and is returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.capacity) evicted = this.shift();
    this.slots[(this.head + this.count) % this.capacity] = item;
    this.count += 1;
    return evicted;
  }

  /** Takes the oldest item out. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count -= 1;
    return item;
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head];
  }

  /** Puts items back at the front, in their order; the caller keeps the total within capacity. */
  unshiftAll(items: readonly T[]): void {
    if (this.count + items.length > this.capacity) {
      throw new RangeError(`ring of ${this.capacity} cannot take ${items.length} more items`);
    }
    for (let i = items.length - 1; i >= 0; i -= 1) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.slots[this.head] = items[i];
      this.count += 1;
    }
  }

  /** Every item, oldest first (a copy). */
  toArray(): T[] {
    const items: T[] = [];
    for (let i = 0; i < this.count; i += 1) items.push(this.slots[(this.head + i) % this.capacity] as T);
    return items;
  }
}
