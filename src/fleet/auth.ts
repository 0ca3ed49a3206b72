import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Keys are stored as SHA-256 hex: a leaked database does not leak working device keys. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** A new random secret (provisioning keys, the generated manager token). */
export function generateKey(): string {
  return randomBytes(24).toString('base64url');
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Compares a presented key with a stored hash in constant time. */
export function keyMatchesHash(key: string | undefined, storedHash: string): boolean {
  if (key === undefined) return false;
  const presented = Buffer.from(hashKey(key), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** Decides whether a request's manager token is the right one. */
export type ManagerTokenCheck = (presented: string | undefined) => boolean | Promise<boolean>;
