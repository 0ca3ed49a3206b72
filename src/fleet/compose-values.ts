/**
 * Small readers for compose value forms. Each returns the normalised value, or a string that
 * says what is wrong (the caller attaches the path).
 */

export type Read<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): Read<T> => ({ ok: true, value });
const fail = <T>(message: string): Read<T> => ({ ok: false, message });

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  return undefined;
}

/** `environment` / `labels`: a map of scalars, or a list of `KEY=VALUE` strings. */
export function readStringMap(value: unknown): Read<Record<string, string>> {
  const result: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      if (typeof item !== 'string') return fail(`item ${index} must be a "KEY=VALUE" string`);
      const eq = item.indexOf('=');
      if (eq <= 0) return fail(`item ${index} ("${item}") must be KEY=VALUE`);
      result[item.slice(0, eq)] = item.slice(eq + 1);
    }
    return ok(result);
  }
  if (!isPlainObject(value)) return fail('must be a map or a list of KEY=VALUE strings');
  for (const [key, raw] of Object.entries(value)) {
    const text = scalarText(raw);
    if (text === undefined) return fail(`value of ${key} must be a string, number or boolean`);
    result[key] = text;
  }
  return ok(result);
}

/** `command` / `entrypoint`: a list of strings, or a string split as a POSIX shell would. */
export function readCommand(value: unknown): Read<string[]> {
  if (typeof value === 'string') return shellSplit(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string' || typeof item === 'number')) {
    return ok(value.map(String));
  }
  return fail('must be a string or a list of strings');
}

/** Splits a command line into words: quotes group, backslash escapes, no expansion. */
export function shellSplit(line: string): Read<string[]> {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) word += line[++i];
      else word += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) return fail(`unterminated ${quote} quote`);
  if (inWord) words.push(word);
  return ok(words);
}

const DURATION = /^(\d+(\.\d+)?(us|ms|s|m|h))+$/;

/** Compose durations: `10s`, `1m30s`, `500ms`, or a number of seconds. */
export function readDuration(value: unknown): Read<string | number> {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return ok(value);
  if (typeof value === 'string' && DURATION.test(value)) return ok(value);
  return fail('must be a duration such as "10s", "1m30s" or "500ms"');
}

export function readString(value: unknown): Read<string> {
  return typeof value === 'string' && value.length > 0 ? ok(value) : fail('must be a non-empty string');
}

export function readBoolean(value: unknown): Read<boolean> {
  return typeof value === 'boolean' ? ok(value) : fail('must be true or false');
}

/** `depends_on`: a list of service names, or a map keyed by service name (conditions ignored). */
export function readNameList(value: unknown): Read<string[]> {
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return ok(value);
  if (isPlainObject(value)) return ok(Object.keys(value));
  return fail('must be a list of service names or a map keyed by service name');
}
