import type { Logger } from '../util/logger.js';
import type { FleetChangeFeed } from './change-feed.js';
import type { SqlExecutor } from './sql/database.js';

/** How often a backend on a shared PostgreSQL database looks for other backends' changes. */
export const SHARED_RECHECK_MS = 3_000;

/**
 * What a fleet's page shows moves one of these: its target, its rollout's state and waves, a
 * device registering, reporting (last_seen is set by every report) or being pinned.
 */
const FINGERPRINTS = `
  SELECT f.id AS fleet_id, f.target_release_id, f.rollout_id, ro.state, ro.opened_waves, ro.updated_at,
    COUNT(d.id) AS devices, MAX(d.last_seen) AS last_seen,
    COUNT(d.pinned_release_id) AS pinned, SUM(d.pinned_release_id) AS pins
  FROM fleets f LEFT JOIN rollouts ro ON ro.id = f.rollout_id LEFT JOIN devices d ON d.fleet_id = f.id
  GROUP BY f.id, f.target_release_id, f.rollout_id, ro.state, ro.opened_waves, ro.updated_at`;

/**
 * Several backends may serve one PostgreSQL database; a change lands on one of them, and only
 * that one's streams hear it at once. The others find it here: while any stream listens, each
 * fleet's fingerprint is read every few seconds and a fleet whose fingerprint moved is published.
 * (Changes of this backend are seen again too: one more "changed" to its streams, harmless.)
 */
export class SharedChangeRecheck {
  /** By fleet id; undefined until a first look while someone listens. */
  private fingerprints: Map<number, string> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(
    private readonly db: SqlExecutor,
    private readonly feed: FleetChangeFeed,
    private readonly log?: Logger,
  ) {}

  start(everyMs = SHARED_RECHECK_MS): void {
    this.timer = setInterval(() => void this.check(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look; a failed read is logged and the next look tries again. */
  async check(): Promise<void> {
    if (this.checking) return;
    if (this.feed.size === 0) {
      // Nobody listens: a stream that opens later starts from a fresh page anyway.
      this.fingerprints = undefined;
      return;
    }
    this.checking = true;
    try {
      const rows = await this.db.all<Record<string, unknown> & { fleet_id: number }>(FINGERPRINTS);
      const seen = new Map(rows.map((row) => [Number(row.fleet_id), JSON.stringify(row)]));
      const before = this.fingerprints;
      this.fingerprints = seen;
      if (before)
        this.feed.publish([...seen].filter(([id, print]) => before.get(id) !== print).map(([id]) => id));
    } catch (err) {
      this.log?.warn({ err }, 'fleet backend: looking for changes made by other backends failed');
    } finally {
      this.checking = false;
    }
  }
}
