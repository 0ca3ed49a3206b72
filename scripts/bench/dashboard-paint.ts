/**
 * What the dashboard's paint measurements share (the bench `dashboard.ts` and the browser test):
 * a fleet seeded straight into the backend's store with reporting devices, and the time from
 * opening its devices page in a fresh tab to the frame that shows every row.
 */
import type { Browser } from 'playwright-core';
import { parseCompose } from '../../src/fleet/compose.js';
import type { FleetStore } from '../../src/fleet/store.js';

/** Registrations and reports in flight at once while seeding (each is a short transaction). */
const SEED_CONCURRENCY = 16;

/** Where the headless browser of the tests and the bench is (Debian's `chromium`). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** The sessionStorage key the dashboard keeps the manager token under (dashboard/api.js). */
const TOKEN_KEY = 'bosun.managerToken';

/**
 * Creates `fleet` with a release and `count` registered devices that report it: most `done`,
 * every tenth `locked` behind a lock file held for ten minutes, every fiftieth rolled back;
 * tags on every device. Devices are named `<fleet>-000001`...
 */
export async function seedFleet(store: FleetStore, fleet: string, count: number): Promise<void> {
  const created = await store.fleets.create(fleet);
  const spec = parseCompose({ services: { main: { image: 'sim/app:1', network_mode: 'none' } } });
  const release = await store.fleets.createRelease(fleet, spec, 'seeded');
  const lockedSince = new Date(Date.now() - 10 * 60_000).toISOString();
  for (let start = 0; start < count; start += SEED_CONCURRENCY) {
    const indexes = Array.from({ length: Math.min(SEED_CONCURRENCY, count - start) }, (_, i) => start + i);
    await Promise.all(
      indexes.map(async (i) => {
        const uuid = `${fleet}-${String(i).padStart(6, '0')}`;
        const key = `${fleet}-device-key-${i}`;
        await store.devices.register({ uuid, fleet, deviceApiKey: key, name: uuid }, created.provisioningKey);
        const status = i % 50 === 49 ? 'rolled back' : i % 10 === 9 ? 'locked' : 'done';
        await store.devices.mergeReports(
          {
            [uuid]: {
              status: 'Idle',
              update_locks:
                status === 'locked'
                  ? [
                      {
                        app_uuid: created.appUuid,
                        service: 'main',
                        path: '/tmp/balena/updates.lock',
                        since: lockedSince,
                      },
                    ]
                  : [],
              apps: {
                [created.appUuid]: {
                  release_uuid: release.commit,
                  releases: {
                    [release.commit]: {
                      update_status: status,
                      ...(status === 'rolled back'
                        ? { rollback_reason: 'main exited with code 1 on probation' }
                        : {}),
                      services: { main: { image: 'sim/app:1', status: 'Running', download_progress: 100 } },
                    },
                  },
                },
              },
            },
          },
          key,
        );
        await store.devices.changeTags(uuid, {
          set: { site: `site-${i % 7}`, ring: i % 3 === 0 ? 'canary' : 'main' },
          remove: [],
        });
      }),
    );
  }
}

/**
 * Runs in the page before its own scripts (browser code, hence a string: this file is compiled
 * without the DOM's types): signs in, and notes the time of the first frame after the devices
 * table holds `rows` rows.
 */
function paintProbe(token: string, rows: number): string {
  return `
    sessionStorage.setItem(${JSON.stringify(TOKEN_KEY)}, ${JSON.stringify(token)});
    const observer = new MutationObserver(() => {
      const body = document.querySelector('#devices tbody');
      if (!body || body.childElementCount < ${rows}) return;
      observer.disconnect();
      requestAnimationFrame(() => { window.bosunPaintedAt = performance.now(); });
    });
    observer.observe(document, { childList: true, subtree: true });`;
}

/**
 * Opens `<url>/#/fleet/<fleet>` in a new tab already signed in (the token put in sessionStorage
 * before the page's scripts run) and answers the ms from navigation start to the first frame
 * after the devices table holds `rows` rows (as the page's own performance clock counts).
 */
export async function firstPaintMs(
  browser: Browser,
  options: { url: string; token: string; fleet: string; rows: number; screenshot?: string },
): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.addInitScript(paintProbe(options.token, options.rows));
    await page.goto(`${options.url}/#/fleet/${encodeURIComponent(options.fleet)}`);
    // A function, not a string: the page's Content-Security-Policy refuses eval of a string.
    const handle = await page.waitForFunction(
      () => (globalThis as { bosunPaintedAt?: number }).bosunPaintedAt,
      undefined,
      { timeout: 20_000 },
    );
    const ms = (await handle.jsonValue()) as number;
    if (options.screenshot) await page.screenshot({ path: options.screenshot });
    return ms;
  } finally {
    await context.close();
  }
}
