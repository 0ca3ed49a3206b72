import type { TargetApp } from '../target/types.js';
import { join, TargetValidationError } from '../target/fields.js';
import { parsePolicyDuration } from './durations.js';
import { isWindowOpen, nextWindowOpening, parseUpdateWindow, type UpdateWindow } from './update-window.js';

/**
 * The update policies of contract section 10 for one app: how long an update waits on a user lock
 * before it goes on as under an override, when it may interrupt the app, and how long a new
 * release is on probation.
 */
export interface AppUpdatePolicy {
  /** Undefined: wait for ever (the seed's rule). */
  lockDeadlineMs?: number;
  /** Every window that applies (labels of several services): the update runs when all are open. */
  windows: UpdateWindow[];
  /** 0 turns probation and rollback off. */
  probationMs: number;
}

/** The device's own values (env vars; empty: not set), already checked at start-up. */
export interface DevicePolicyDefaults {
  lockDeadline: string;
  updateWindow: string;
  probation: string;
}

interface PolicyNames {
  cloud: string;
  label: string;
}

const LOCK_DEADLINE: PolicyNames = {
  cloud: 'SUPERVISOR_UPDATE_LOCK_DEADLINE',
  label: 'io.bosun.update.lock-deadline',
};
const UPDATE_WINDOW: PolicyNames = { cloud: 'SUPERVISOR_UPDATE_WINDOW', label: 'io.bosun.update.window' };
const PROBATION: PolicyNames = { cloud: 'SUPERVISOR_UPDATE_PROBATION', label: 'io.bosun.update.probation' };

/** The default probation, when nothing sets one. */
export const DEFAULT_PROBATION = '60s';

const CLOUD_PREFIXES = ['', 'BALENA_', 'RESIN_'];

/** The cloud config var of a policy under any accepted prefix, with the key it was found under. */
function cloudValue(config: Record<string, string>, names: PolicyNames): [string, string] | undefined {
  for (const prefix of CLOUD_PREFIXES) {
    const key = prefix + names.cloud;
    if (typeof config[key] === 'string' && config[key].trim() !== '') return [key, config[key]];
  }
  return undefined;
}

/** The label values of a policy on the app's services (each service may set its own). */
function labelValues(app: TargetApp, names: PolicyNames): string[] {
  return Object.values(app.release?.services ?? {})
    .map((s) => s.labels[names.label])
    .filter((v): v is string => typeof v === 'string' && v.trim() !== '');
}

/**
 * The policy in force for an app, in rising priority: the device's env var, the cloud config var,
 * a label on any of its services (the label wins for that app; with several services the
 * strictest: the shortest deadline, the longest probation, every window at once). Values were
 * checked when the target was accepted (checkPolicyValues) and at start-up.
 */
export function resolveAppPolicy(
  app: TargetApp,
  cloudConfig: Record<string, string>,
  device: DevicePolicyDefaults,
): AppUpdatePolicy {
  const pick = (names: PolicyNames, deviceValue: string): string[] => {
    const labels = labelValues(app, names);
    if (labels.length > 0) return labels;
    const cloud = cloudValue(cloudConfig, names);
    if (cloud) return [cloud[1]];
    return deviceValue.trim() === '' ? [] : [deviceValue];
  };
  const deadlines = pick(LOCK_DEADLINE, device.lockDeadline).map(parsePolicyDuration);
  const probations = pick(PROBATION, device.probation || DEFAULT_PROBATION).map(parsePolicyDuration);
  return {
    lockDeadlineMs: deadlines.length > 0 ? Math.min(...deadlines) : undefined,
    windows: pick(UPDATE_WINDOW, device.updateWindow).map(parseUpdateWindow),
    probationMs: probations.length > 0 ? Math.max(...probations) : parsePolicyDuration(DEFAULT_PROBATION),
  };
}

const POLICIES: Array<[PolicyNames, (text: string) => unknown]> = [
  [LOCK_DEADLINE, parsePolicyDuration],
  [UPDATE_WINDOW, parseUpdateWindow],
  [PROBATION, parsePolicyDuration],
];

/**
 * Rejects a target whose policy config vars do not parse (contract section 10: the target is
 * rejected whole, naming the var). `path` is the target's `config`.
 */
export function checkPolicyConfig(config: Record<string, string>, path: string): void {
  for (const [names, parse] of POLICIES) {
    const cloud = cloudValue(config, names);
    if (cloud) checkOne(join(path, cloud[0]), cloud[1], parse);
  }
}

/** The same for the policy labels of a release's services; `path` is the release's `services`. */
export function checkPolicyLabels(
  services: Record<string, { labels: Record<string, string> }>,
  path: string,
): void {
  for (const [names, parse] of POLICIES) {
    for (const [serviceName, service] of Object.entries(services)) {
      const value = service.labels[names.label];
      if (typeof value === 'string')
        checkOne(join(join(join(path, serviceName), 'labels'), names.label), value, parse);
    }
  }
}

function checkOne(path: string, value: string, parse: (text: string) => unknown): void {
  try {
    parse(value);
  } catch (err) {
    throw new TargetValidationError(path, (err as Error).message);
  }
}

/** Whether every window is open at `now`, and if not, the first instant they all are (within a week). */
export function windowState(windows: UpdateWindow[], now: number): { open: boolean; opensAt?: number } {
  if (windows.length === 0) return { open: true };
  if (windows.every((w) => isWindowOpen(w, new Date(now)))) return { open: true };
  // Each step jumps to the latest of the windows' next openings; a handful of steps settles it.
  let at = now;
  for (let step = 0; step < 64; step += 1) {
    const openings = windows.map((w) => nextWindowOpening(w, new Date(at)));
    if (openings.some((o) => o === undefined)) return { open: false };
    const latest = Math.max(...openings.map((o) => o!.getTime()));
    if (windows.every((w) => isWindowOpen(w, new Date(latest)))) return { open: false, opensAt: latest };
    at = latest + 60_000;
  }
  return { open: false };
}
