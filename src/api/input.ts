import { BadRequestError } from './errors.js';

/**
 * Reading request fields the way balena-supervisor's clients send them: booleans as JSON
 * booleans, 0/1, or the strings true/false, 1/0, on/off (curl -d and form posts send strings);
 * ids as numbers or numeric strings. Each reader names the field in its error so a client
 * knows what to fix.
 */

const TRUE_WORDS = new Set(['true', '1', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'off']);

/** An optional boolean field: absent means `fallback`; anything unrecognised is a 400. */
export function readFlag(body: Record<string, unknown>, field: string, fallback = false): boolean {
  const value = body[field];
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  if (value === 1) return true;
  if (value === 0) return false;
  if (typeof value === 'string') {
    const word = value.trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
  }
  throw new BadRequestError(
    `${field} must be a boolean (true/false, 1/0, "on"/"off"), got ${describe(value)}`,
  );
}

/** A positive whole-number id, from a JSON number or a string of digits. */
export function readId(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  if (typeof value === 'string' && /^\s*[1-9][0-9]*\s*$/.test(value)) {
    const parsed = Number(value);
    if (Number.isSafeInteger(parsed)) return parsed;
  }
  if (value === undefined) throw new BadRequestError(`${field} is required`);
  throw new BadRequestError(`${field} must be a positive integer, got ${describe(value)}`);
}

/** A required positive id in the body, such as /v1/restart's appId. */
export function readBodyId(body: Record<string, unknown>, field: string): number {
  return readId(body[field], field);
}

/** How a v2 service action names its service: by name, or by the image id balena also accepts. */
export type ServiceSelector = { serviceName: string } | { imageId: number };

export function readServiceSelector(body: Record<string, unknown>): ServiceSelector {
  const { serviceName, imageId } = body;
  if (serviceName !== undefined && serviceName !== null && serviceName !== '') {
    if (typeof serviceName !== 'string') {
      throw new BadRequestError(`serviceName must be a string, got ${describe(serviceName)}`);
    }
    return { serviceName };
  }
  if (imageId !== undefined && imageId !== null && imageId !== '') {
    return { imageId: readId(imageId, 'imageId') };
  }
  throw new BadRequestError('serviceName (or imageId) is required');
}

/** A short, safe rendering of a rejected value for an error message. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
