/**
 * Value shapes compose files use over and over (a string or a list, a map or a `KEY=VALUE` list,
 * sizes like `512m`), each with an error that names the field's path and what was expected.
 */
import { TargetValidationError, expectStringArray, fail, isPlainObject, join } from './fields.js';

/** An array of strings, or one string as a list of one (compose allows both for `dns` and the like). */
export function stringOrList(value: unknown, path: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return expectStringArray(value, path);
  return fail(path, 'a string or an array of strings', value);
}

/** Like `stringOrList`, with no empty entries (an empty capability or DNS server is a mistake). */
export function nonEmptyStrings(value: unknown, path: string): string[] {
  const items = stringOrList(value, path);
  items.forEach((item, i) => {
    if (item.trim() === '') fail(Array.isArray(value) ? join(path, i) : path, 'a non-empty string', item);
  });
  return items;
}

/**
 * A map of strings, or the compose list form `["KEY=VALUE", ...]` (`labels`, `sysctls`,
 * `driver_opts`). Numbers and booleans are stringified, as YAML produces them; `__proto__` cannot
 * be a key (it would vanish from the record).
 */
export function stringMapOrList(value: unknown, path: string, separator = '='): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (key: string, item: string, at: string): void => {
    if (key === '') throw new TargetValidationError(at, 'has an empty key');
    if (key === '__proto__') throw new TargetValidationError(at, '"__proto__" cannot be used as a name here');
    Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
  };
  if (Array.isArray(value)) {
    value.forEach((entry, i) => {
      const at = join(path, i);
      if (typeof entry !== 'string') fail(at, `a string "KEY${separator}VALUE"`, entry);
      const cut = entry.indexOf(separator);
      if (cut < 0) fail(at, `a string "KEY${separator}VALUE"`, entry);
      put(entry.slice(0, cut), entry.slice(cut + 1), at);
    });
    return out;
  }
  if (!isPlainObject(value)) return fail(path, `a map, or an array of "KEY${separator}VALUE" strings`, value);
  for (const [key, item] of Object.entries(value)) {
    const at = join(path, key);
    if (typeof item === 'string') put(key, item, at);
    else if (typeof item === 'number' || typeof item === 'boolean') put(key, String(item), at);
    else if (item === null) put(key, '', at);
    else fail(at, 'a string, number or boolean', item);
  }
  return out;
}

/** A whole number within [min, max]. */
export function integerIn(value: unknown, path: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    fail(path, `a whole number from ${min} to ${max}`, value);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};

/**
 * A size in bytes: a number of bytes, or a string such as `512m`, `1g`, `1.5G`, `64k`, `100b`
 * (binary units, as Docker reads them). Must be a whole number of bytes within 2^53.
 */
export function parseByteSize(value: unknown, path: string): number {
  const expected = 'a size such as 512m, 1g or a number of bytes';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) fail(path, expected, value);
    return value;
  }
  if (typeof value !== 'string') return fail(path, expected, value);
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = match?.[2].toLowerCase();
  if (match === null || unit === undefined || !Object.hasOwn(SIZE_UNITS, unit)) fail(path, expected, value);
  const bytes = Math.round(Number(match[1]) * SIZE_UNITS[unit]);
  if (!Number.isSafeInteger(bytes)) fail(path, expected, value);
  return bytes;
}
