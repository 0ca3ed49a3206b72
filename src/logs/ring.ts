/** Slots a ring starts with: a device with a quiet log (or a simulated one) never needs more. */
const INITIAL_SLOTS = 64;

/**
 * A first-in first-out queue of at most `capacity` items in a circular array: adding, taking
 * from the front and putting back at the front cost O(1) per item (amortised), whatever the
 * length. The array grows by doubling as items come, and never past the capacity.
 */
export class Ring<T> {
  private slots: Array<T | undefined>;
  private head = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`ring capacity must be a whole number >= 1, got ${capacity}`);
    }
    this.slots = new Array<T | undefined>(Math.min(capacity, INITIAL_SLOTS));
  }

  get length(): number {
    return this.count;
  }

  /** Adds at the back; when full, the oldest item makes room and is returned. */
  push(item: T): T | undefined {
    let evicted: T | undefined;
    if (this.count === this.capacity) evicted = this.shift();
    else this.makeRoom(1);
    this.slots[(this.head + this.count) % this.slots.length] = item;
    this.count += 1;
    return evicted;
  }

  /** Takes the oldest item out. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) % this.slots.length;
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
    this.makeRoom(items.length);
    for (let i = items.length - 1; i >= 0; i -= 1) {
      this.head = (this.head - 1 + this.slots.length) % this.slots.length;
      this.slots[this.head] = items[i];
      this.count += 1;
    }
  }

  /** Every item, oldest first (a copy). */
  toArray(): T[] {
    const items: T[] = [];
    for (let i = 0; i < this.count; i += 1) items.push(this.slots[(this.head + i) % this.slots.length] as T);
    return items;
  }

  /** Grows the array (oldest item first, at index 0) so that `more` items fit. */
  private makeRoom(more: number): void {
    const needed = this.count + more;
    if (needed <= this.slots.length) return;
    let size = this.slots.length;
    while (size < needed) size *= 2;
    const items = this.toArray();
    this.slots = new Array<T | undefined>(Math.min(this.capacity, size));
    items.forEach((item, i) => (this.slots[i] = item));
    this.head = 0;
  }
}
