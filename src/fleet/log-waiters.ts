import { setClampedTimeout } from '../util/timers.js';

/**
 * Followers of device logs waiting for new lines (long polls): woken when this process stores
 * lines of their device, when their wait is up, or when the server closes. Lines another
 * backend stores (a shared PostgreSQL database) are found by the follower's next look instead.
 */
export class LogWaiters {
  private readonly waiting = new Map<number, Set<() => void>>();
  private closed = false;

  /** Resolves when lines of `deviceId` are stored here, after `ms`, or at close. */
  wait(deviceId: number, ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.waiting.get(deviceId) ?? new Set();
      this.waiting.set(deviceId, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0 && this.waiting.get(deviceId) === waiters) this.waiting.delete(deviceId);
        resolve();
      };
      const timer = setClampedTimeout(done, ms);
      waiters.add(done);
    });
  }

  notify(deviceId: number): void {
    for (const done of [...(this.waiting.get(deviceId) ?? [])]) done();
  }

  /** Ends every wait now and any later one at once: the server is closing. */
  close(): void {
    this.closed = true;
    for (const waiters of [...this.waiting.values()]) for (const done of [...waiters]) done();
  }

  get closing(): boolean {
    return this.closed;
  }
}
