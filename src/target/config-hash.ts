import { createHash } from 'node:crypto';
import type { TargetService } from './types.js';

/** JSON with object keys sorted at every level, so equal values always serialise alike. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => stableStringify(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A fingerprint of everything in a target service that is baked into its container: image,
 * environment, labels (the update strategy and hand-over timeout are labels, so they count too)
 * and composition. Two services with the same hash can share a container; a different hash means
 * the container must be recreated. `running` is left out on purpose: starting or stopping a
 * service must never recreate it. sha256, first 16 hex characters.
 */
export function serviceConfigHash(service: TargetService): string {
  const material = {
    image: service.image,
    environment: service.environment,
    labels: service.labels,
    composition: service.composition,
  };
  return createHash('sha256').update(stableStringify(material)).digest('hex').slice(0, 16);
}

/**
 * A service's hash with what else its container is made from folded in (the configuration of the
 * networks it joins, the hash of the service whose network stack it shares): a change there
 * recreates it too. Same inputs, same hash; sha256, first 16 hex characters.
 */
export function foldedConfigHash(base: string, extra: unknown): string {
  return createHash('sha256')
    .update(`${base}:${stableStringify(extra)}`)
    .digest('hex')
    .slice(0, 16);
}

/** A fingerprint of a release network's configuration: a change means the network is recreated. */
export function networkConfigHash(config: unknown): string {
  return createHash('sha256').update(stableStringify(config)).digest('hex').slice(0, 16);
}
