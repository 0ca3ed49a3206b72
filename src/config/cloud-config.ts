import { parseBoolean, POLL_INTERVAL_CEILING_MS } from './schema.js';

/** The floor for SUPERVISOR_POLL_INTERVAL from the cloud: a fleet must not be able to DoS itself. */
const CLOUD_POLL_INTERVAL_FLOOR_MS = 10_000;

export interface CloudSettings {
  /** Poll interval asked for by the cloud, after the floor; undefined when not set or invalid. */
  pollIntervalMs?: number;
  /** The cloud asked for less than the floor or more than the ceiling: what it asked (warn about it). */
  pollIntervalOutOfRange?: number;
  /** Device-wide update lock override from the cloud, and which key turned it on. */
  overrideLock: boolean;
  overrideLockSource?: string;
  instantUpdateTrigger: boolean;
}

const PREFIXES = ['', 'BALENA_', 'RESIN_'];

function valuesOf(config: Record<string, string>, names: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name of names) {
    for (const prefix of PREFIXES) {
      const key = prefix + name;
      if (typeof config[key] === 'string') out.push([key, config[key]]);
    }
  }
  return out;
}

/**
 * Reads the config vars of contract section 4 out of a target's `config`. For the lock override
 * any true value under any accepted name wins: a `false` under one name never cancels a `true`
 * under another (balena-supervisor #950).
 */
export function readCloudSettings(config: Record<string, string> = {}): CloudSettings {
  const settings: CloudSettings = { overrideLock: false, instantUpdateTrigger: true };

  const poll = valuesOf(config, ['SUPERVISOR_POLL_INTERVAL']);
  for (const [, raw] of poll) {
    const ms = Number(raw);
    if (!Number.isInteger(ms) || ms <= 0) continue;
    settings.pollIntervalMs = Math.min(Math.max(ms, CLOUD_POLL_INTERVAL_FLOOR_MS), POLL_INTERVAL_CEILING_MS);
    if (settings.pollIntervalMs !== ms) settings.pollIntervalOutOfRange = ms;
    break;
  }

  for (const [key, raw] of valuesOf(config, ['SUPERVISOR_OVERRIDE_LOCK', 'OVERRIDE_LOCK'])) {
    if (parseBoolean(raw) === true) {
      settings.overrideLock = true;
      settings.overrideLockSource = key;
      break;
    }
  }

  for (const [, raw] of valuesOf(config, ['SUPERVISOR_INSTANT_UPDATE_TRIGGER'])) {
    const value = parseBoolean(raw);
    if (value !== undefined) {
      settings.instantUpdateTrigger = value;
      break;
    }
  }
  return settings;
}
