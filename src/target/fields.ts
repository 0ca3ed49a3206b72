import { BosunError } from '../util/errors.js';

/**
 * A target state document was rejected whole. `path` locates the offending field relative to the
 * device object (e.g. `apps.<uuid>.releases.<commit>.services.main.image`); empty for the
 * document itself. Never transient: the same document fails the same way every time.
 */
export class TargetValidationError extends BosunError {
  override name = 'TargetValidationError';
  readonly path: string;
  /** The message without the path, for callers that show the path their own way. */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super('ETARGET_INVALID', path === '' ? reason : `${path}: ${reason}`, { transient: false });
    this.path = path;
    this.reason = reason;
  }
}

export type JsonObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Extends a path by a key; keys that are not plain words are quoted so the path stays readable. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  if (path === '') return part;
  return part.startsWith('"') ? `${path}[${part}]` : `${path}.${part}`;
}

/**
 * The keys of a path made by `join`, so a caller can find the field in its own source (the fleet
 * finds the compose file's line). Stops at the first part it cannot read.
 */
export function splitPath(path: string): Array<string | number> {
  // A fresh sticky regex per call: each part must start where the previous one ended. A quoted
  // key is bare only at the start of a path (join puts no brackets around a first key).
  const part = /\.?([A-Za-z0-9_-]+)|\[(\d+)\]|\[?("(?:[^"\\]|\\.)*")\]?/y;
  const keys: Array<string | number> = [];
  for (let match = part.exec(path); match !== null; match = part.exec(path)) {
    if (match[1] !== undefined) keys.push(match[1]);
    else if (match[2] !== undefined) keys.push(Number(match[2]));
    else keys.push(JSON.parse(match[3]) as string);
  }
  return keys;
}

/** Names what was found, for "expected X, found Y" messages. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (the field is missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 60)}...` : value;
    return `the string ${JSON.stringify(shown)}`;
  }
  return `${typeof value} ${String(value)}`;
}

export function fail(path: string, expected: string, found: unknown): never {
  throw new TargetValidationError(path, `expected ${expected}, found ${describeValue(found)}`);
}

export function expectObject(value: unknown, path: string, what = 'an object'): JsonObject {
  if (!isPlainObject(value)) fail(path, what, value);
  return value;
}

/** An optional object field: absent or null means empty. */
export function optionalObject(value: unknown, path: string): JsonObject {
  if (value === undefined || value === null) return {};
  return expectObject(value, path);
}

export function expectNonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail(path, 'a non-empty string', value);
  return value;
}

export function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(path, 'a string', value);
  return value;
}

export function optionalBoolean(value: unknown, path: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') fail(path, 'true or false', value);
  return value;
}

export function expectPositiveInt(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    fail(path, 'a positive whole number', value);
  }
  return value;
}

export function expectStringArray(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) fail(path, 'an array of strings', value);
  return value.map((item, i) => {
    if (typeof item !== 'string') fail(join(path, i), 'a string', item);
    return item;
  });
}

/**
 * `__proto__` cannot be a key of a record bosun builds: assigning it would set the record's
 * prototype and the entry would vanish silently (or, read back, show Object.prototype). JSON.parse
 * does make it an own key, so a document can carry it; such a name is rejected.
 */
function checkRecordKey(key: string, path: string): void {
  if (key === '__proto__') {
    throw new TargetValidationError(join(path, key), '"__proto__" cannot be used as a name here');
  }
}

/**
 * Sets an own, enumerable property, `__proto__` included, as JSON.parse makes it: for documents
 * built from a body before validation, so validation sees every key the body had.
 */
export function setOwn(record: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A map of strings (environment, labels, config). Numbers and booleans are stringified, since YAML
 * and hand-written JSON produce them for values like `PORT: 80`; anything else is an error.
 */
export function stringMap(value: unknown, path: string): Record<string, string> {
  const raw = optionalObject(value, path);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(raw)) {
    if (key === '') throw new TargetValidationError(path, 'has an empty key');
    checkRecordKey(key, path);
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[key] = String(v);
    else fail(join(path, key), 'a string, number or boolean', v);
  }
  return out;
}
