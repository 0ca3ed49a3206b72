/**
 * Attack review finding: a device's `PATCH /device/v3/state` body is deep-merged into its stored
 * report, so one device could grow that report without bound (28 MB after a few PATCHes), and
 * every device list read and parsed it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  MAX_APPS_PER_REPORT,
  MAX_REPORT_BODY_BYTES,
  MAX_REPORT_BYTES,
  MAX_SERVICES_PER_RELEASE,
} from '../../../src/fleet/report-limits.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';
import { httpCall } from '../../helpers/fleet-http.js';

const TOKEN = 'manager-token-for-report-limits';
const UUID = 'device-limits-0001';
const KEY = 'device-key-limits-0001';

describe.each(FLEET_BACKENDS)('fleet backend on %s: device reports are bounded', (backend) => {
  const databases = new TestDatabases(backend);
  let server: FleetServer;

  beforeAll(async () => {
    server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      database: await databases.fresh(),
      token: TOKEN,
    });
    const created = await httpCall(server.url, 'POST', '/v1/fleets', {
      key: TOKEN,
      body: { name: 'kitchen' },
    });
    const { provisioningKey } = created.json();
    const registered = await httpCall(server.url, 'POST', '/device/register', {
      key: provisioningKey,
      body: { uuid: UUID, fleet: 'kitchen', deviceApiKey: KEY },
    });
    expect(registered.status).toBe(201);
  });

  afterAll(async () => {
    await server?.close();
    await databases.dispose();
  });

  const report = (partial: unknown) =>
    httpCall(server.url, 'PATCH', '/device/v3/state', { key: KEY, body: { [UUID]: partial } });
  const stored = async () =>
    (await server.store.db.get<{ report_json: string }>('SELECT report_json FROM devices WHERE uuid = ?', [
      UUID,
    ]))!.report_json;

  /** A 413 with a JSON message, and the stored report exactly as before the PATCH. */
  async function expectRefused(partial: unknown, message: RegExp): Promise<void> {
    const before = await stored();
    const answer = await report(partial);
    expect({ status: answer.status, body: answer.json() }).toEqual({
      status: 413,
      body: { error: expect.any(String), message: expect.stringMatching(message) },
    });
    expect(await stored()).toBe(before);
  }

  it('accepts an ordinary report', async () => {
    const answer = await report({
      status: 'Idle',
      apps: { app1: { releases: { r1: { update_status: 'done' } } } },
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(await stored())).toMatchObject({ status: 'Idle' });
  });

  it('refuses a body over the route limit with 413 before parsing it', async () => {
    const huge = { status: 'x'.repeat(MAX_REPORT_BODY_BYTES) };
    await expectRefused(huge, /body.*larger than 262144 bytes/);
  });

  it('refuses PATCHes that would grow the merged report past its total size, storing nothing of them', async () => {
    // Each PATCH is under the body limit; together they would pass the report limit.
    const chunk = 'y'.repeat(60 * 1024);
    let accepted = 0;
    let refused: { status: number; body: unknown } | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const before = await stored();
      const answer = await report({ [`filler_${i}`]: chunk });
      if (answer.status === 200) accepted++;
      else {
        refused = { status: answer.status, body: answer.json() };
        expect(await stored()).toBe(before);
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toEqual({
      status: 413,
      body: { error: 'EFLEET_TOO_LARGE', message: expect.stringMatching(/report.*262144 bytes/) },
    });
    expect(Buffer.byteLength(await stored())).toBeLessThanOrEqual(MAX_REPORT_BYTES);
    // The device clears what it sent (null removes a key) and reports normally again.
    const clear = Object.fromEntries(Array.from({ length: accepted }, (_, i) => [`filler_${i}`, null]));
    expect((await report(clear)).status).toBe(200);
    expect((await report({ status: 'Idle again' })).status).toBe(200);
  });

  it('refuses more apps than the limit, counting the apps already stored', async () => {
    const apps = (from: number, count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`app-${from + i}`, { release_uuid: 'r' }]));
    expect((await report({ apps: apps(0, MAX_APPS_PER_REPORT - 1) })).status).toBe(200);
    await expectRefused({ apps: apps(1000, 2) }, new RegExp(`more than ${MAX_APPS_PER_REPORT} apps`));
    await expectRefused({ apps: apps(2000, MAX_APPS_PER_REPORT + 1) }, /apps/);
  });

  it('refuses more services in a release than the limit', async () => {
    const services = Object.fromEntries(
      Array.from({ length: MAX_SERVICES_PER_RELEASE + 1 }, (_, i) => [`svc-${i}`, { status: 'Running' }]),
    );
    await expectRefused(
      { apps: { app1: { releases: { r1: { services } } } } },
      new RegExp(`more than ${MAX_SERVICES_PER_RELEASE} services`),
    );
  });

  it('refuses a report nested deeper than any real one, without a 500', async () => {
    // Written as text: JSON.stringify itself runs out of stack on a value this deep.
    const levels = 20_000;
    const raw = `{"${UUID}":{"deep":${'{"a":'.repeat(levels)}"bottom"${'}'.repeat(levels)}}}`;
    expect(Buffer.byteLength(raw)).toBeLessThan(MAX_REPORT_BODY_BYTES);
    const before = await stored();
    const answer = await httpCall(server.url, 'PATCH', '/device/v3/state', { key: KEY, raw });
    expect({ status: answer.status, body: answer.json() }).toEqual({
      status: 413,
      body: { error: 'EFLEET_TOO_LARGE', message: expect.stringMatching(/nested deeper than 16 levels/) },
    });
    expect(await stored()).toBe(before);
    expect((await report({ status: 'still reporting' })).status).toBe(200);
  });
});
