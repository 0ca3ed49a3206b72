import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AgentConfig } from '../config/schema.js';
import type { JsonStore } from '../store/json-store.js';

/** The device's lasting identity: generated once, persisted owner-only, never logged. */
export interface Identity {
  uuid: string;
  apiKey: string;
  deviceApiKey: string;
}

interface StoredIdentity {
  uuid?: string;
  apiKey?: string;
  deviceApiKey?: string;
}

const STORE_KEY = 'identity';

/** Config wins over what is stored; what is missing is generated and stored for next time. */
export async function loadIdentity(config: AgentConfig, store: JsonStore): Promise<Identity> {
  const stored = (await store.read<StoredIdentity>(STORE_KEY)) ?? {};
  const identity: Identity = {
    uuid: config.uuid || stored.uuid || randomUUID().replace(/-/g, ''),
    apiKey: config.apiKey || stored.apiKey || newKey(),
    deviceApiKey: config.deviceApiKey || stored.deviceApiKey || '',
  };
  if (
    identity.uuid !== stored.uuid ||
    identity.apiKey !== stored.apiKey ||
    identity.deviceApiKey !== stored.deviceApiKey
  ) {
    await store.write(STORE_KEY, identity, 0o600);
  }
  return identity;
}

export async function saveDeviceKey(
  store: JsonStore,
  identity: Identity,
  deviceApiKey: string,
): Promise<void> {
  identity.deviceApiKey = deviceApiKey;
  await store.write(STORE_KEY, identity, 0o600);
}

export function newKey(): string {
  return randomBytes(24).toString('hex');
}

/** Constant-time key comparison (different lengths are unequal without a timing leak of content). */
export function keysEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

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
