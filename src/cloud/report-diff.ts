export type JsonObject = { [key: string]: unknown };

/**
 * The keys of `next` that differ from `prev`, recursing into plain objects so that one service's
 * status change sends only that service. Arrays (update_locks) and other values are sent whole
 * when they differ. A key that `prev` had and `next` lacks is sent as null: the receiver's merge
 * treats null as "remove" (an app or release that went away). Returns {} when nothing changed.
 */
export function diffReport(prev: JsonObject, next: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(next)) {
    const old = prev[key];
    if (isPlainObject(value) && isPlainObject(old)) {
      const sub = diffReport(old, value);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else if (!(key in prev) || !jsonEqual(old, value)) {
      out[key] = value;
    }
  }
  for (const key of Object.keys(prev)) {
    if (!(key in next)) out[key] = null;
  }
  return out;
}

export function isPlainObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Equality of JSON values. Unlike util.isDeepStrictEqual it ignores prototypes, which differ for
 * values from another realm (structuredClone under a VM context) while the JSON is the same.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}
