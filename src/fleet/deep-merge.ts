import { isPlainObject } from './compose-values.js';

/**
 * Merges a partial state report into the stored one: maps merge key by key, recursively;
 * scalars and arrays (such as `update_locks`) replace what was there; `null` removes the key (the
 * agent's reporter sends a key that disappeared, e.g. an old release, as null; readers treat a
 * missing key as null). The agent sends only changed keys, so this rebuilds its full report.
 * Inputs are not mutated.
 */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(patch)) return patch;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    // Guard the prototype: a report is untrusted input.
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') continue;
    if (value === null) delete merged[key];
    else merged[key] = Object.hasOwn(base, key) ? deepMerge(base[key], value) : value;
  }
  return merged;
}
