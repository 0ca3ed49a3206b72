import type { JsonStore } from '../store/json-store.js';
import { keysEqual, newKey } from './identity.js';

/** App-scoped local-API keys, one per app id that asks for the supervisor API; persisted. */
export class AppKeys {
  private keys: Record<number, string> = {};

  constructor(private readonly store: JsonStore) {}

  async load(): Promise<void> {
    this.keys = (await this.store.read<Record<number, string>>('app-keys')) ?? {};
  }

  all(): Record<number, string> {
    return this.keys;
  }

  /** Makes sure each of these apps has a key; persists only when one was added. */
  async ensure(appIds: number[]): Promise<void> {
    let added = false;
    for (const appId of appIds) {
      if (!this.keys[appId]) {
        this.keys[appId] = newKey();
        added = true;
      }
    }
    if (added) await this.store.write('app-keys', this.keys, 0o600);
  }

  appFor(key: string): number | undefined {
    for (const [appId, candidate] of Object.entries(this.keys)) {
      if (keysEqual(candidate, key)) return Number(appId);
    }
    return undefined;
  }
}
