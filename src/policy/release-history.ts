import { stableStringify } from '../target/config-hash.js';
import type { JsonStore } from '../store/json-store.js';
import type { AppHistory } from './probation.js';

const STORE_KEY = 'release-history';

/**
 * Each app's release history (probation.ts), persisted whenever it changes, so an agent killed
 * mid-probation or mid-rollback goes on from where it was at the next start.
 */
export class ReleaseHistory {
  private histories: Record<string, AppHistory> = {};

  constructor(private readonly store: JsonStore) {}

  async load(): Promise<this> {
    this.histories = (await this.store.read<Record<string, AppHistory>>(STORE_KEY)) ?? {};
    return this;
  }

  get(appUuid: string): AppHistory {
    return this.histories[appUuid] ?? {};
  }

  all(): Readonly<Record<string, AppHistory>> {
    return this.histories;
  }

  /** Replaces an app's history; written only when it changed. */
  async set(appUuid: string, history: AppHistory): Promise<void> {
    // The probation functions hand back the very object when nothing changed: no work then.
    const current = this.get(appUuid);
    if (history === current || stableStringify(history) === stableStringify(current)) return;
    this.histories = { ...this.histories, [appUuid]: history };
    await this.store.write(STORE_KEY, this.histories);
  }

  /** Forgets apps that left the target. */
  async retain(appUuids: ReadonlySet<string>): Promise<void> {
    const kept = Object.fromEntries(Object.entries(this.histories).filter(([uuid]) => appUuids.has(uuid)));
    if (Object.keys(kept).length === Object.keys(this.histories).length) return;
    this.histories = kept;
    await this.store.write(STORE_KEY, this.histories);
  }
}
