import { checkTargetLimits } from '../target/limits.js';
import { errorMessage } from '../util/errors.js';
import { headerValue, type CloudResponse } from './http.js';

export type ParsedTarget = { ok: true; doc: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Turns a 2xx target response into a JSON object, or a reason it is unusable. Catches what a proxy
 * or a broken backend sends with a 200: an HTML error page, a truncated body, an empty body, a
 * document beyond the caps of target/limits.ts. The document's shape (uuid, apps, releases) is
 * checked later, by the target validator.
 */
export function parseTargetResponse(res: CloudResponse): ParsedTarget {
  const contentType = headerValue(res.headers['content-type']);
  if (!isJsonContentType(contentType)) {
    return {
      ok: false,
      reason: `target response is not JSON (content-type ${contentType ?? 'missing'}, HTTP ${res.status}${excerpt(res.body)})`,
    };
  }
  if (res.body.trim() === '') {
    return { ok: false, reason: `target response has an empty body (HTTP ${res.status})` };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(res.body);
  } catch (err) {
    return {
      ok: false,
      reason: `target response is truncated or malformed JSON (${(err as Error).message}; ${res.body.length} characters)`,
    };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { ok: false, reason: `target response is JSON but not an object (${describe(doc)})` };
  }
  // Before anything walks the document (the poller hashes it recursively): a value nested deep
  // enough to overflow the stack must be a rejection, not a poll failure that reports nothing.
  try {
    checkTargetLimits(doc);
  } catch (err) {
    return { ok: false, reason: errorMessage(err) };
  }
  return { ok: true, doc: doc as Record<string, unknown> };
}

/** application/json, or any +json type, with or without parameters such as charset. */
export function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function excerpt(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  return `, body starts ${JSON.stringify(text.slice(0, 80))}`;
}
