import { setClampedTimeout } from '../util/timers.js';

/**
 * Coalesces report rebuilds. Changes come in bursts (a pass publishes its plan, the next pass
 * starts at once, a pull reports progress): one rebuild, `delayMs` after the first change, covers
 * the whole burst; a change during a rebuild asks for one more after it. `build` never rejects.
 */
export class ReportRefresher {
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly build: () => Promise<void>,
    private readonly delayMs: number,
  ) {}

  /** Something changed: rebuild soon. */
  request(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.timer ??= setClampedTimeout(() => void this.now(), this.delayMs);
  }

  /** Rebuilds now (a pending delayed rebuild is folded in); resolves when done. */
  now(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.build().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.request();
      }
    });
    return this.running;
  }

  /** Resolves once no rebuild is pending or running (the last changes are in the report). */
  async flush(): Promise<void> {
    while (this.running || this.timer) await (this.running ?? this.now());
  }
}
