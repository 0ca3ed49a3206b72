import { isPlainObject } from './compose-values.js';
import { tooLarge } from './errors.js';

/*
 * A device's report (contract section 5) is untrusted input the backend keeps, merges into on
 * every PATCH and parses on every device list. A real one is a few KiB: one app per fleet, a
 * current and a target release, a handful of services, locks and warnings. These limits leave
 * ample headroom for that while bounding what one device can make the backend store and parse.
 */

/**
 * Largest `PATCH /device/v3/state` body, enforced by fastify before it parses anything. A full
 * (first) report of a large release is still far below it.
 */
export const MAX_REPORT_BODY_BYTES = 256 * 1024;

/** Largest stored (merged) report, serialised: PATCHes of allowed size cannot add up past it. */
export const MAX_REPORT_BYTES = 256 * 1024;

/** Apps in one report (the backend gives a device one app per fleet). */
export const MAX_APPS_PER_REPORT = 64;

/** Releases reported under one app (the agent reports its current and target releases). */
export const MAX_RELEASES_PER_APP = 64;

/** Services reported in one release. */
export const MAX_SERVICES_PER_RELEASE = 64;

/**
 * Nesting of a report (a real one is 7 levels deep: apps, app, releases, release, services,
 * service, field). Checked before merging, whose recursion follows the nesting, and so that a
 * report never becomes too deep for JSON.stringify.
 */
export const MAX_REPORT_DEPTH = 16;

/** Refuses (413) one device's partial report nested deeper than `MAX_REPORT_DEPTH`. */
export function checkReportDepth(uuid: string, partial: unknown): void {
  if (deeperThan(partial, MAX_REPORT_DEPTH)) {
    throw tooLarge(`report of ${uuid} is nested deeper than ${MAX_REPORT_DEPTH} levels`);
  }
}

/**
 * Refuses (413) a merged report over the size or count limits. `json` is its serialisation, the
 * text that would be stored.
 */
export function checkMergedReport(uuid: string, report: Record<string, unknown>, json: string): void {
  const bytes = Buffer.byteLength(json);
  if (bytes > MAX_REPORT_BYTES) {
    throw tooLarge(
      `report of ${uuid} would be ${bytes} bytes with this PATCH, more than the ${MAX_REPORT_BYTES} bytes a report may have; send null for keys no longer needed`,
    );
  }
  const apps = entriesOf(report.apps);
  if (apps.length > MAX_APPS_PER_REPORT) {
    throw tooLarge(`report of ${uuid} would list more than ${MAX_APPS_PER_REPORT} apps`);
  }
  for (const [appUuid, app] of apps) {
    const releases = entriesOf(isPlainObject(app) ? app.releases : undefined);
    if (releases.length > MAX_RELEASES_PER_APP) {
      throw tooLarge(
        `report of ${uuid} would list more than ${MAX_RELEASES_PER_APP} releases of app ${appUuid}`,
      );
    }
    for (const [releaseUuid, release] of releases) {
      const services = entriesOf(isPlainObject(release) ? release.services : undefined);
      if (services.length > MAX_SERVICES_PER_RELEASE) {
        throw tooLarge(
          `report of ${uuid} would list more than ${MAX_SERVICES_PER_RELEASE} services in release ${releaseUuid}`,
        );
      }
    }
  }
}

function entriesOf(value: unknown): Array<[string, unknown]> {
  return isPlainObject(value) ? Object.entries(value) : [];
}

/** True when objects or arrays nest more than `levels` deep; stops looking at `levels + 1`. */
function deeperThan(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  return Object.values(value).some((child) => deeperThan(child, levels - 1));
}
