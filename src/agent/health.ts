/** An apply pass running longer than this means the agent is stuck (a pull can take long). */
export const STALLED_PASS_MS = 30 * 60_000;
/** Passes failing before they can even plan (engine unreachable) for this long: unhealthy. */
export const FAILING_PASSES_MS = 5 * 60_000;

export interface HealthInput {
  now: number;
  /** When the pass now running started; undefined when none runs. */
  passStartedAt?: number;
  /** Since when passes have been failing; undefined while they succeed. */
  failingSince?: number;
  /** False when target polling has stalled (managed mode only). */
  pollerHealthy: boolean;
}

export type HealthVerdict = { healthy: true } | { healthy: false; reason: string };

/**
 * GET /v1/healthy (contract section 8): unhealthy when applying has stalled (one pass running
 * for 30 minutes), passes have failed for 5 minutes, or polling has stalled. A watchdog restarts
 * the agent on it, so a transient failure must not trip it.
 */
export function healthVerdict(input: HealthInput): HealthVerdict {
  if (input.passStartedAt !== undefined && input.now - input.passStartedAt > STALLED_PASS_MS) {
    return { healthy: false, reason: 'an apply pass has run for too long' };
  }
  if (input.failingSince !== undefined && input.now - input.failingSince > FAILING_PASSES_MS) {
    return {
      healthy: false,
      reason: `applying has failed since ${new Date(input.failingSince).toISOString()}`,
    };
  }
  if (!input.pollerHealthy) return { healthy: false, reason: 'target state polling has stalled' };
  return { healthy: true };
}
