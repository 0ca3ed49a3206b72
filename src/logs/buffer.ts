import { Ring } from './ring.js';

/**
 * The lines not yet delivered to the cloud, at most `capacity` of them (BOSUN_LOG_BUFFER_LINES):
 * when the cloud is away the oldest go first, and are counted so the cloud can be told how many.
 *
 * A batch being sent is taken out (`take`) but still counts against the capacity, so the device
 * never holds more than `capacity` undelivered lines. It is then either `delivered`, or
 * `returned` to the front, oldest first, to be sent again. While every held line is in flight
 * (a capacity smaller than a batch) a new line is the one dropped.
 */
export class LogBuffer<T> {
  private readonly queue: Ring<T>;
  private inFlight: T[] = [];
  private dropped = 0;

  constructor(readonly capacity: number) {
    this.queue = new Ring<T>(capacity);
  }

  /** Lines held: waiting and in flight. */
  get unsent(): number {
    return this.queue.length + this.inFlight.length;
  }

  /** Lines waiting to be taken. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Lines dropped since the count was last taken. */
  get droppedCount(): number {
    return this.dropped;
  }

  push(item: T): void {
    if (this.unsent >= this.capacity) {
      this.dropped += 1;
      if (this.queue.length === 0) return;
      this.queue.shift();
    }
    this.queue.push(item);
  }

  /**
   * Takes the oldest waiting lines out for one batch: at most `maxItems`, and while their
   * weights stay within `maxWeight` (at least one line, whatever it weighs). Only one batch is in
   * flight at a time.
   */
  take(maxItems: number, weigh?: (item: T) => number, maxWeight = Infinity): T[] {
    if (this.inFlight.length > 0) throw new Error('a log batch is in flight already');
    const batch: T[] = [];
    let weight = 0;
    while (batch.length < maxItems && this.queue.length > 0) {
      const next = this.queue.peek() as T;
      const w = weigh?.(next) ?? 0;
      if (batch.length > 0 && weight + w > maxWeight) break;
      weight += w;
      batch.push(this.queue.shift() as T);
    }
    this.inFlight = batch;
    return batch;
  }

  /** The batch in flight reached the cloud. */
  delivered(): void {
    this.inFlight = [];
  }

  /** The batch in flight did not reach the cloud: back to the front, to go first next time. */
  returned(): void {
    this.queue.unshiftAll(this.inFlight);
    this.inFlight = [];
  }

  /** The batch in flight can never be delivered (the cloud refused it): counted as dropped. */
  discarded(): void {
    this.dropped += this.inFlight.length;
    this.inFlight = [];
  }

  /** The dropped count, reset to 0: the caller reports it (and gives it back if that fails). */
  takeDropped(): number {
    const count = this.dropped;
    this.dropped = 0;
    return count;
  }

  restoreDropped(count: number): void {
    this.dropped += count;
  }
}
