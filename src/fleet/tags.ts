/**
 * Device tags (contract section 12): `key=value` labels a manager puts on devices, to list them
 * (`devices --tag`) and to limit a rollout to them (`--only`). Keys are short identifiers; values
 * are any text of one line.
 */
import { badInput } from './errors.js';

const TAG_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,63}$/;
const MAX_VALUE = 256;
/** A device carries no more tags than this: they are labels, not a data store. */
export const MAX_TAGS = 64;

export type Tags = Record<string, string>;

export function checkTagKey(key: string): void {
  if (!TAG_KEY.test(key)) {
    throw badInput(`tag key "${key.slice(0, 70)}" must be 1-64 letters, digits, "_", ".", ":", "/" or "-"`);
  }
}

export function checkTagValue(key: string, value: string): void {
  if (value.length > MAX_VALUE) throw badInput(`tag ${key}: value longer than ${MAX_VALUE} characters`);
  // One line of text: it is shown in tables, and PostgreSQL text cannot hold a NUL.
  if (/[\0\r\n]/.test(value)) throw badInput(`tag ${key}: value must be one line without NUL characters`);
}

/** `key=value` as the CLI and the `tag` query parameter give it. */
export function parseTagAssignment(text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw badInput(`expected key=value, not "${text.slice(0, 70)}"`);
  const [key, value] = [text.slice(0, eq), text.slice(eq + 1)];
  checkTagKey(key);
  checkTagValue(key, value);
  return [key, value];
}

/** Several `key=value` (a query parameter given once or more) as one filter: all must match. */
export function parseTagFilter(given: string | string[] | undefined): Tags {
  const list = given === undefined ? [] : Array.isArray(given) ? given : [given];
  // A Map, then fromEntries: a key may be __proto__.
  const filter = new Map<string, string>();
  for (const text of list) {
    const [key, value] = parseTagAssignment(text);
    if (filter.has(key) && filter.get(key) !== value) {
      throw badInput(`tag ${key} asked for twice with two values`);
    }
    filter.set(key, value);
  }
  return sortedTags([...filter]);
}

/** Checks a tag filter or tag set that came as JSON: `{ key: value }` with string values. */
export function tagRecord(value: unknown, what: string): Tags {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badInput(`${what} must be { "<key>": "<value>" }`);
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_TAGS) throw badInput(`${what}: more than ${MAX_TAGS} tags`);
  for (const [key, tagValue] of entries) {
    checkTagKey(key);
    if (typeof tagValue !== 'string') throw badInput(`${what}: tag ${key} must be a string`);
    checkTagValue(key, tagValue);
  }
  return sortedTags(entries as Array<[string, string]>);
}

/** Tags in key order (byte order, as the database lists them), as a plain record. */
export function sortedTags(entries: Array<[string, string]>): Tags {
  return Object.fromEntries([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function matchesTags(tags: Tags, filter: Tags): boolean {
  return Object.entries(filter).every(([key, value]) => Object.hasOwn(tags, key) && tags[key] === value);
}

export function formatTags(tags: Tags): string {
  return Object.entries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

/** A tag change as JSON: `{ key: value }` sets, `{ key: null }` removes (a JSON merge patch). */
export interface TagPatch {
  set: Tags;
  remove: string[];
}

export function tagPatch(value: unknown): TagPatch {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw badInput('body must be { "<key>": "<value>" or null }');
  }
  const entries = Object.entries(value);
  if (entries.length === 0) throw badInput('body names no tag');
  if (entries.length > MAX_TAGS) throw badInput(`body names more than ${MAX_TAGS} tags`);
  const set: Array<[string, string]> = [];
  const remove: string[] = [];
  for (const [key, tagValue] of entries) {
    checkTagKey(key);
    if (tagValue === null) remove.push(key);
    else if (typeof tagValue === 'string') {
      checkTagValue(key, tagValue);
      set.push([key, tagValue]);
    } else throw badInput(`tag ${key} must be a string, or null to remove it`);
  }
  return { set: sortedTags(set), remove };
}
