import { describe, expect, it } from '@jest/globals';
import { FleetError } from '../../../src/fleet/errors.js';
import {
  checkMergedReport,
  checkReportDepth,
  MAX_APPS_PER_REPORT,
  MAX_RELEASES_PER_APP,
  MAX_REPORT_BYTES,
  MAX_REPORT_DEPTH,
  MAX_SERVICES_PER_RELEASE,
} from '../../../src/fleet/report-limits.js';

const keyed = <T>(count: number, value: (i: number) => T) =>
  Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, value(i)]));

/** The 413 message a check throws, or undefined when the report is within the limits. */
function refusal(check: () => void): string | undefined {
  try {
    check();
  } catch (err) {
    if (err instanceof FleetError && err.statusCode === 413) return err.message;
    throw err;
  }
  return undefined;
}

const merged = (report: Record<string, unknown>) =>
  refusal(() => checkMergedReport('dev-1', report, JSON.stringify(report)));

describe('fleet/report-limits', () => {
  it('accepts a report exactly at each count limit and refuses one more', () => {
    const release = (services: number) => ({ services: keyed(services, () => ({ status: 'Running' })) });
    const app = (releases: number, services = 1) => ({ releases: keyed(releases, () => release(services)) });
    expect(merged({ apps: keyed(MAX_APPS_PER_REPORT, () => app(1)) })).toBeUndefined();
    expect(merged({ apps: keyed(MAX_APPS_PER_REPORT + 1, () => app(1)) })).toMatch(/more than 64 apps/);
    expect(merged({ apps: { a: app(MAX_RELEASES_PER_APP) } })).toBeUndefined();
    expect(merged({ apps: { a: app(MAX_RELEASES_PER_APP + 1) } })).toMatch(/more than 64 releases of app a/);
    expect(merged({ apps: { a: app(1, MAX_SERVICES_PER_RELEASE) } })).toBeUndefined();
    expect(merged({ apps: { a: app(1, MAX_SERVICES_PER_RELEASE + 1) } })).toMatch(
      /more than 64 services in release k0/,
    );
    // Shapes other than the contract's are not counted, only sized.
    expect(merged({ apps: 'not a map', other: keyed(500, (i) => i) })).toBeUndefined();
  });

  it('refuses a report over the byte limit, counting UTF-8 bytes', () => {
    const overhead = JSON.stringify({ s: '' }).length;
    expect(merged({ s: 'x'.repeat(MAX_REPORT_BYTES - overhead) })).toBeUndefined();
    expect(merged({ s: 'x'.repeat(MAX_REPORT_BYTES - overhead + 1) })).toMatch(/262145 bytes/);
    // 'é' is one character and two bytes.
    expect(merged({ s: 'é'.repeat((MAX_REPORT_BYTES - overhead) / 2 + 1) })).toMatch(/bytes/);
  });

  it('refuses nesting deeper than the limit, arrays included', () => {
    const nested = (levels: number) => {
      let value: unknown = 1;
      for (let i = 1; i < levels; i++) value = i % 2 ? [value] : { a: value };
      return { top: value };
    };
    expect(refusal(() => checkReportDepth('dev-1', nested(MAX_REPORT_DEPTH)))).toBeUndefined();
    expect(refusal(() => checkReportDepth('dev-1', nested(MAX_REPORT_DEPTH + 1)))).toMatch(
      /nested deeper than 16 levels/,
    );
  });
});
