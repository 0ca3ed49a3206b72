import type { PassOutcome } from '../reconcile/loop-types.js';

/** The parts of the metrics registry that passes feed. */
export interface PassMetricsSink {
  recordApply(result: 'success' | 'failure'): void;
  addLockedSeconds(appUuid: string, seconds: number): void;
}

/**
 * Turns pass outcomes into metrics, one pass at a time: an apply succeeds when a pass converges
 * after passes that had work, and fails once per failed pass (not per status change); an app
 * waiting on its lock accrues the time between the passes that saw it locked.
 */
export class PassMetrics {
  private wasConverged = false;
  private lastAt: number;

  constructor(
    private readonly sink: PassMetricsSink,
    private readonly now: () => number = Date.now,
  ) {
    this.lastAt = now();
  }

  record(outcome: PassOutcome): void {
    const now = this.now();
    if (outcome.kind === 'failed') {
      this.sink.recordApply('failure');
    } else {
      for (const app of Object.values(outcome.apps)) {
        if (app.phase === 'locked') this.sink.addLockedSeconds(app.appUuid, (now - this.lastAt) / 1000);
      }
      if (outcome.kind === 'converged' && !this.wasConverged) this.sink.recordApply('success');
    }
    this.wasConverged = outcome.kind === 'converged';
    this.lastAt = now;
  }
}
