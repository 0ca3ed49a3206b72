/**
 * Compose value forms that have no v3 equivalent, turned into the v3 form. Only the form is
 * changed here: whether the result is valid is for the device's validation (target/validate.ts),
 * which the fleet runs on every release before storing it.
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `environment` / `labels` as a v3 string map. Compose also allows a list of `KEY=VALUE` strings
 * (a list is returned as a map, or as a message naming the item that is not `KEY=VALUE`), and
 * YAML makes numbers and booleans of values like `PORT: 80` and null of `EMPTY:`, which become
 * their text. Any other value is left as it is, for the device's validation to name.
 */
export function composeStringMap(
  value: unknown,
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (Array.isArray(value)) {
    const entries: Array<[string, string]> = [];
    for (const [index, item] of value.entries()) {
      const eq = typeof item === 'string' ? item.indexOf('=') : -1;
      // Compose reads a bare `NAME` from the pushing shell's environment, which the fleet has not.
      if (typeof item !== 'string' || eq <= 0) {
        return { ok: false, message: `item ${index} (${JSON.stringify(item)}) must be a "KEY=VALUE" string` };
      }
      entries.push([item.slice(0, eq), item.slice(eq + 1)]);
    }
    // fromEntries makes every key an own property, "__proto__" too, so validation sees it.
    return { ok: true, value: Object.fromEntries(entries) };
  }
  if (!isPlainObject(value)) return { ok: true, value };
  return {
    ok: true,
    value: Object.fromEntries(Object.entries(value).map(([key, raw]) => [key, scalarText(raw)])),
  };
}

function scalarText(value: unknown): unknown {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  return value;
}
