import { composeStringMap, isPlainObject } from './compose-values.js';

export type PathSegment = string | number;

/**
 * What one compose service becomes in a v3 release, before ids are assigned. Values are as the
 * compose file gave them (only compose-only forms are rewritten): the device's validation,
 * which the fleet runs before storing a release, decides whether they are valid.
 */
export interface ComposeService {
  image: unknown;
  environment: unknown;
  labels: unknown;
  /** Every other key of the service, snake_case, as balena releases carry it (contract section 3). */
  composition: Record<string, unknown>;
}

/** Keys a v3 service carries beside its composition; everything else goes into the composition. */
const SERVICE_FIELDS = new Set(['image', 'environment', 'labels']);

/**
 * Splits one compose service into the v3 service fields and its composition. Reports only what
 * cannot be mapped at all (a service that is not a map, a list item that is not `KEY=VALUE`).
 */
export function mapService(
  name: string,
  raw: unknown,
  report: (path: PathSegment[], message: string) => void,
): ComposeService | undefined {
  const base: PathSegment[] = ['services', name];
  if (!isPlainObject(raw)) {
    report(base, 'must be a map of service keys');
    return undefined;
  }
  const stringMap = (key: 'environment' | 'labels'): unknown => {
    if (raw[key] === undefined || raw[key] === null) return {};
    const mapped = composeStringMap(raw[key]);
    if (mapped.ok) return mapped.value;
    report([...base, key], mapped.message);
    return undefined;
  };
  const environment = stringMap('environment');
  const labels = stringMap('labels');
  if (environment === undefined || labels === undefined) return undefined;
  const composition = Object.fromEntries(Object.entries(raw).filter(([key]) => !SERVICE_FIELDS.has(key)));
  return { image: raw.image, environment, labels, composition };
}
