/**
 * Recovering the device's identity when identity.json is damaged.
 *
 * The uuid is what the device's containers are labelled with (io.bosun.device-uuid, contract
 * section 6) and what the cloud knows it by. A silently generated new one forks the device: its
 * own containers become invisible to it (every create then fails on a name conflict) and the cloud
 * sees a stranger. So a damaged identity is recovered, in this order: from the copy JsonStore moved
 * aside, read field by field as far as it can be; else from the owner label of the containers on
 * the engine. Only when neither names a uuid is a new one made, and that is logged loudly; when the
 * engine holds containers of several devices, start-up stops for an operator to decide.
 */
import path from 'node:path';
import { LABELS, type ContainerInfo } from '../engine/types.js';
import { ConfigError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** What is left of a stored identity; a field is absent when it could not be read whole. */
export interface SalvagedIdentity {
  uuid?: string;
  apiKey?: string;
  deviceApiKey?: string;
}

/** What a device uuid looks like (the generated ones are 32 hex digits). */
export const DEVICE_UUID = /^[A-Za-z0-9_-]{1,128}$/;
/** Keys are printable text without quotes or backslashes (generated ones are hex). */
const KEY = /^[\x21\x23-\x5b\x5d-\x7e]{1,512}$/;

/** The engine holds containers of several devices and the identity file names none of them. */
export class IdentityConflictError extends ConfigError {
  override name = 'IdentityConflictError';
  readonly uuids: string[];

  constructor(message: string, uuids: string[]) {
    super(message, { code: 'EIDENTITY_CONFLICT' });
    this.uuids = uuids;
  }
}

/**
 * The fields of a stored identity that can be read from its possibly damaged text: each must
 * appear as a complete `"name": "value"` pair of the expected form. A torn or garbled field is
 * left out rather than guessed.
 */
export function salvageIdentity(text: string): SalvagedIdentity {
  const field = (name: string, form: RegExp): string | undefined => {
    const match = new RegExp(`"${name}"\\s*:\\s*"([^"\\\\]*)"`).exec(text);
    return match && form.test(match[1]) ? match[1] : undefined;
  };
  const salvaged: SalvagedIdentity = {};
  const uuid = field('uuid', DEVICE_UUID);
  const apiKey = field('apiKey', KEY);
  const deviceApiKey = field('deviceApiKey', KEY);
  if (uuid !== undefined) salvaged.uuid = uuid;
  if (apiKey !== undefined) salvaged.apiKey = apiKey;
  if (deviceApiKey !== undefined) salvaged.deviceApiKey = deviceApiKey;
  return salvaged;
}

/** The distinct io.bosun.device-uuid values of these containers, sorted. */
export function ownerUuidsOf(containers: ReadonlyArray<Pick<ContainerInfo, 'labels'>>): string[] {
  const uuids = new Set<string>();
  for (const container of containers) {
    const owner = container.labels[LABELS.deviceUuid];
    if (owner !== undefined && owner !== '') uuids.add(owner);
  }
  return [...uuids].sort();
}

export interface IdentityRecoveryInput {
  /** The identity file, for messages. */
  file: string;
  /** Damaged copies of it, newest first (JsonStore.corruptCopies). */
  copies: ReadonlyArray<{ file: string; text: string }>;
  /** The uuid the configuration sets (BOSUN_UUID), or empty: when set, the engine is not asked. */
  configuredUuid: string;
  /** The engine's containers of every device (Engine.listContainersOfAllDevices). */
  listContainersOfAllDevices: () => Promise<ContainerInfo[]>;
  log: Logger;
}

/**
 * Recovers what it can of a damaged identity. The uuid comes from the newest copy that still
 * names one, else (unless configured) from the containers: exactly one owner uuid is taken; none,
 * with no containers either, leaves the uuid to be generated anew; several throw
 * IdentityConflictError. Keys come from the copies only; a lost key is regenerated (the API key)
 * or obtained again by registration (the device key).
 */
export async function recoverIdentity(input: IdentityRecoveryInput): Promise<SalvagedIdentity> {
  const { file, copies, log } = input;
  const recovered: SalvagedIdentity = {};
  // Newest first: a field comes from the newest copy that still holds it whole.
  for (const copy of copies) {
    for (const [field, value] of Object.entries(salvageIdentity(copy.text))) {
      recovered[field as keyof SalvagedIdentity] ??= value;
    }
  }
  const copyNames = copies.map((copy) => path.basename(copy.file));
  if (input.configuredUuid !== '') {
    log.warn({ file, copies: copyNames }, 'identity file was damaged; the configured BOSUN_UUID is used');
  } else if (recovered.uuid !== undefined) {
    log.warn(
      { file, copies: copyNames, uuid: recovered.uuid },
      'identity file was damaged; the device uuid was recovered from the copy moved aside',
    );
  } else {
    const uuid = uuidFromContainers(file, await input.listContainersOfAllDevices(), log);
    if (uuid !== undefined) recovered.uuid = uuid;
  }
  return recovered;
}

function uuidFromContainers(file: string, containers: ContainerInfo[], log: Logger): string | undefined {
  const uuids = ownerUuidsOf(containers);
  if (uuids.length === 1) {
    log.warn(
      { file, uuid: uuids[0], containers: containers.length },
      'identity file was damaged; the device uuid was recovered from the io.bosun.device-uuid label of its containers',
    );
    return uuids[0];
  }
  if (uuids.length === 0) {
    log.warn(
      { file },
      'identity file was damaged and no container names a device uuid: the old identity is lost, ' +
        'a new one is generated (the cloud will see a new device)',
    );
    return undefined;
  }
  throw new IdentityConflictError(
    `${file} is damaged and its device uuid cannot be read, and the engine holds containers of ` +
      `several devices (${uuids.join(', ')}), so bosun cannot tell which is this device's. ` +
      `Set BOSUN_UUID to this device's uuid (or restore ${file}) and start again.`,
    uuids,
  );
}
