import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AgentConfig } from '../config/schema.js';
import path from 'node:path';
import type { ContainerInfo } from '../engine/types.js';
import type { JsonStore } from '../store/json-store.js';
import type { Logger } from '../util/logger.js';
import { recoverIdentity } from './identity-recovery.js';

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

/** What loadIdentity needs to recover a damaged identity file (agent/identity-recovery.ts). */
export interface IdentityRecoveryDeps {
  listContainersOfAllDevices: () => Promise<ContainerInfo[]>;
  log: Logger;
}

/**
 * Config wins over what is stored; what is missing is generated and stored for next time. A
 * damaged identity file is never silently replaced: see recoverIdentity.
 */
export async function loadIdentity(
  config: AgentConfig,
  store: JsonStore,
  recovery: IdentityRecoveryDeps,
): Promise<Identity> {
  const read = await store.read<unknown>(STORE_KEY);
  let stored = storedFields(read);
  if (stored.uuid === undefined) {
    // No uuid stored: a first start, or a damaged file (JsonStore moved it aside, now or at an
    // earlier start that stopped before the identity was stored again; or it parsed but is not
    // an identity).
    const copies = await store.corruptCopies(STORE_KEY);
    const file = path.join(store.dir, `${STORE_KEY}.json`);
    if (read !== undefined) copies.unshift({ file, text: JSON.stringify(read) });
    if (copies.length > 0) {
      stored = await recoverIdentity({ file, copies, configuredUuid: config.uuid, ...recovery });
      if (!config.deviceApiKey && stored.deviceApiKey === undefined && config.apiEndpoint !== '') {
        recovery.log.warn(
          { file },
          'the device key was lost with the identity file; the device registers again',
        );
      }
    }
  }
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

/** The fields of a parsed identity file that have the right type; anything else is dropped. */
function storedFields(value: unknown): StoredIdentity {
  if (typeof value !== 'object' || value === null) return {};
  const raw = value as Record<string, unknown>;
  const text = (field: unknown) => (typeof field === 'string' && field !== '' ? field : undefined);
  const fields: StoredIdentity = {};
  const uuid = text(raw.uuid);
  const apiKey = text(raw.apiKey);
  const deviceApiKey = text(raw.deviceApiKey);
  if (uuid !== undefined) fields.uuid = uuid;
  if (apiKey !== undefined) fields.apiKey = apiKey;
  if (deviceApiKey !== undefined) fields.deviceApiKey = deviceApiKey;
  return fields;
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
