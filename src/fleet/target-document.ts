import { createHash } from 'node:crypto';

/** A service of a v3 release, as contract section 3 shows it. */
export interface V3Service {
  id: number;
  image_id: number;
  image: string;
  environment: Record<string, string>;
  labels: Record<string, string>;
  running: boolean;
  composition: Record<string, unknown>;
}

export interface V3Release {
  id: number;
  services: Record<string, V3Service>;
  volumes: Record<string, Record<string, unknown>>;
  networks: Record<string, Record<string, unknown>>;
}

export interface TargetInputs {
  deviceUuid: string;
  deviceName: string;
  /** Fleet config with the device's overrides already applied. */
  config: Record<string, string>;
  app: { id: number; uuid: string; name: string };
  /** The release the device should run; absent before the fleet's first push. */
  release?: { commit: string; body: V3Release };
}

/** The serialised target document of one device and its strong ETag. */
export interface StoredTarget {
  json: string;
  etag: string;
}

/** Builds a device's v3 target document (contract section 3). Pure: same inputs, same bytes. */
export function buildTargetDocument(inputs: TargetInputs): StoredTarget {
  const { app, release } = inputs;
  const document = {
    [inputs.deviceUuid]: {
      name: inputs.deviceName,
      config: sortedRecord(inputs.config),
      apps: {
        [app.uuid]: {
          id: app.id,
          name: app.name,
          class: 'fleet',
          releases: release ? { [release.commit]: release.body } : {},
        },
      },
    },
  };
  const json = JSON.stringify(document);
  return { json, etag: strongEtag(json) };
}

/** A strong validator: the quoted hash of the exact bytes served. */
export function strongEtag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** Merges fleet config and device overrides; the device wins. Sorted, so the bytes are stable. */
export function effectiveConfig(
  fleetConfig: Record<string, string>,
  deviceConfig: Record<string, string>,
): Record<string, string> {
  return sortedRecord({ ...fleetConfig, ...deviceConfig });
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Does an `If-None-Match` header match the ETag? Weak comparison, as RFC 9110 prescribes for
 * If-None-Match: a `W/` prefix is ignored, a list is searched, and `*` matches anything.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag);
  });
}
