import { setClampedTimeout } from './timers.js';

/**
 * A sleep that anything can cut short. wake() ends the sleep in progress, or, if none is, makes
 * the next sleep return at once: a wake-up that arrives while the sleeper is busy is never lost.
 */
export class Waker {
  private pending = false;
  private wakeSleeper: (() => void) | undefined;

  wake(): void {
    this.pending = true;
    this.wakeSleeper?.();
  }

  /** Forget wake-ups so far: called when the sleeper starts work that will see their cause. */
  clear(): void {
    this.pending = false;
  }

  /** Resolves after `ms` (Infinity: only on wake) or at the first wake(). */
  sleep(ms: number): Promise<void> {
    if (this.pending) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        this.wakeSleeper = undefined;
        resolve();
      };
      if (Number.isFinite(ms)) timer = setClampedTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }
}
