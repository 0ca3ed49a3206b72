/**
 * Benchmark: the dashboard's first paint of a large fleet. Starts the backend in-process on a
 * temp SQLite db, seeds a fleet of N reporting devices (a tenth locked, a fiftieth rolled
 * back, all tagged), then opens its devices page in headless chromium (Debian's, driven by
 * playwright-core) signed in, and measures from navigation start to the first frame showing
 * every row. Fresh tab each time; prints each run and the median.
 *
 *   npm run build && node dist/scripts/bench/dashboard.js [--devices 1000] [--runs 5]
 *
 * Goal: under 1 s for 1,000 devices.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { startFleetServer } from '../../src/fleet/server.js';
import { CHROMIUM_PATH, firstPaintMs, seedFleet } from './dashboard-paint.js';

const TOKEN = 'bench-manager-token';
const GOAL_MS = 1000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { devices: { type: 'string', default: '1000' }, runs: { type: 'string', default: '5' } },
  });
  const devices = Number(values.devices);
  const runs = Number(values.runs);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bosun-bench-dashboard-'));
  const server = await startFleetServer({
    port: 0,
    address: '127.0.0.1',
    database: path.join(dir, 'fleet.db'),
    token: TOKEN,
  });
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox'],
  });
  try {
    const seedStart = Date.now();
    await seedFleet(server.store, 'bench', devices);
    console.log(
      `dashboard first paint, ${devices} devices (seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s)`,
    );
    const times: number[] = [];
    for (let run = 0; run < runs; run += 1) {
      const ms = await firstPaintMs(browser, {
        url: server.url,
        token: TOKEN,
        fleet: 'bench',
        rows: devices,
      });
      times.push(ms);
      console.log(`  run ${run + 1}: ${Math.round(ms)} ms`);
    }
    const median = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
    const verdict = median < GOAL_MS ? 'goal met' : 'GOAL MISSED';
    console.log(`  median ${Math.round(median)} ms (goal under ${GOAL_MS} ms: ${verdict})`);
  } finally {
    await browser.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
