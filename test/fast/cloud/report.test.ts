import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  StateReporter,
  type DeviceReport,
  type StateReporterDeps,
} from '../../../src/cloud/state-reporter.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { sleep } from '../../helpers/wait.js';
import { FakeCloud } from '../../helpers/fake-cloud.js';
import { captureLog } from '../../helpers/log-capture.js';
import type { Logger } from '../../../src/util/logger.js';

const UUID = 'feedface000000000000000000001234';
const ROUTE = 'PATCH /device/v3/state';
const KEY = 'report-key-NEVER-IN-LOGS-77aa';

function initialState(): DeviceReport {
  return {
    api_port: 48484,
    status: 'Idle',
    update_locks: [],
    target_error: null,
    target_warnings: [],
    apps: {
      app1: {
        release_uuid: 'rel1',
        releases: {
          rel1: {
            update_status: 'done',
            services: {
              main: { image: '127.0.0.1:5000/bosun/demo:1', status: 'Running', download_progress: null },
              side: { image: '127.0.0.1:5000/bosun/locker:1', status: 'Running', download_progress: null },
            },
          },
        },
      },
    },
  };
}

describe('cloud/report StateReporter against a real HTTP server', () => {
  let fake: FakeCloud;
  let dir: string;
  let state: DeviceReport;
  let logText: string[];
  let logger: Logger;
  const reporters: StateReporter[] = [];

  beforeEach(async () => {
    fake = await FakeCloud.start();
    fake.fallback(ROUTE, { status: 200, body: 'OK', headers: { 'content-type': 'text/plain' } });
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-report-'));
    state = initialState();
    ({ log: logger, lines: logText } = captureLog());
  });

  afterEach(async () => {
    await Promise.all(reporters.splice(0).map((r) => r.stop()));
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function makeReporter(over: Partial<StateReporterDeps> = {}): StateReporter {
    const reporter = new StateReporter({
      endpoint: fake.url,
      uuid: UUID,
      getDeviceKey: () => KEY,
      store: new JsonStore(dir),
      log: logger,
      getState: () => state,
      intervalMs: 300,
      maxBackoffMs: 400,
      random: () => 0.5,
      ...over,
    });
    reporters.push(reporter);
    return reporter;
  }

  const bodies = () => fake.requestsTo(ROUTE).map((r) => JSON.parse(r.body) as Record<string, unknown>);

  it('folds a burst of 50 changes into at most one PATCH per interval, the last with the final state', async () => {
    const reporter = makeReporter();
    const started = Date.now();
    for (let i = 1; i <= 50; i++) {
      state.status = `Step ${i}`;
      state.apps.app1!.releases.rel1!.services.main!.download_progress = i * 2;
      reporter.notify();
      await sleep(2);
    }
    const burstMs = Date.now() - started;
    await sleep(700);
    const sent = bodies();
    expect(sent.length).toBeGreaterThanOrEqual(1);
    // One at once, then at most one per 300 ms interval while changes kept coming, and one after
    // (two, on a quiet machine where the burst takes ~100 ms; never one per change).
    expect(sent.length).toBeLessThanOrEqual(2 + Math.floor(burstMs / 300));
    const at = fake.requestsTo(ROUTE).map((r) => r.at);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(250);
    expect(sent.at(-1)).toMatchObject({
      [UUID]: {
        status: 'Step 50',
        apps: { app1: { releases: { rel1: { services: { main: { download_progress: 100 } } } } } },
      },
    });
    const reqs = fake.requestsTo(ROUTE);
    expect(reqs[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(reqs[0]!.headers['content-type']).toMatch(/application\/json/);
    // The throttle spaces PATCH starts; arrival times also include the first connection's set-up.
    if (reqs.length === 2) expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(250);
  });

  it('sends everything first, then only the keys that changed', async () => {
    const reporter = makeReporter({ intervalMs: 50 });
    reporter.notify();
    await fake.waitForRequests(1);
    expect(bodies()[0]).toEqual({ [UUID]: initialState() });

    state.apps.app1!.releases.rel1!.services.side!.status = 'exited';
    state.update_locks = [
      { app_uuid: 'app1', service: 'main', path: '/tmp/balena/updates.lock', since: 't0' },
    ];
    reporter.notify();
    await fake.waitForRequests(2);
    expect(bodies()[1]).toEqual({
      [UUID]: {
        update_locks: state.update_locks,
        apps: { app1: { releases: { rel1: { services: { side: { status: 'exited' } } } } } },
      },
    });

    reporter.notify(); // nothing changed: no PATCH
    await sleep(200);
    expect(bodies()).toHaveLength(2);
  });

  it('persists the acknowledged report, so a restart sends only what changed meanwhile', async () => {
    const first = makeReporter({ intervalMs: 50 });
    first.notify();
    await fake.waitForRequests(1);
    expect(await first.flush()).toBe(true);
    await first.stop();

    const second = makeReporter({ intervalMs: 50 });
    second.notify(); // same state as acknowledged: nothing to send
    await sleep(150);
    expect(bodies()).toHaveLength(1);

    state.status = 'Downloading';
    second.notify();
    await fake.waitForRequests(2);
    expect(bodies()[1]).toEqual({ [UUID]: { status: 'Downloading' } });
  });

  it('keeps changes across a failed PATCH and sends them with the retry', async () => {
    fake.script(ROUTE, { status: 500, body: 'db down' }, { destroy: true });
    const reporter = makeReporter({ intervalMs: 100, maxBackoffMs: 200 });
    state.status = 'A';
    reporter.notify();
    await fake.waitForRequests(1);
    state.target_error = 'bad doc';
    reporter.notify(); // folded into the retry
    await fake.waitForRequests(3, 3000);
    await sleep(50);
    const sent = bodies();
    expect(sent).toHaveLength(3);
    expect(sent[2]).toEqual({ [UUID]: { ...initialState(), status: 'A', target_error: 'bad doc' } });
    expect(reporter.pending()).toBe(false);
    const reqs = fake.requestsTo(ROUTE);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(95); // at least one interval
    expect(logText.join('')).toContain('will retry with the changes kept');
  });

  it('honours Retry-After on a 503', async () => {
    fake.script(ROUTE, { status: 503, headers: { 'retry-after': '1' } });
    const reporter = makeReporter({ intervalMs: 50, maxBackoffMs: 100 });
    reporter.notify();
    await fake.waitForRequests(2, 3000);
    const reqs = fake.requestsTo(ROUTE);
    expect(reqs[1]!.at - reqs[0]!.at).toBeGreaterThanOrEqual(990);
  });

  it('flush() sends pending changes at once, ignoring the throttle', async () => {
    const reporter = makeReporter({ intervalMs: 60_000 });
    reporter.notify();
    await fake.waitForRequests(1);
    state.status = 'Shutting down';
    reporter.notify();
    const t = Date.now();
    expect(await reporter.flush()).toBe(true);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(bodies()[1]).toEqual({ [UUID]: { status: 'Shutting down' } });
  });

  it('logs a refused key without the key and keeps the report pending', async () => {
    fake.fallback(ROUTE, { status: 401, body: { message: 'nope' } });
    const results: string[] = [];
    const reporter = makeReporter({ intervalMs: 50, onReportResult: (r) => results.push(r) });
    reporter.notify();
    await fake.waitForRequests(1);
    await sleep(50);
    expect(results).toEqual(['auth-error']);
    expect(reporter.pending()).toBe(true);
    expect(logText.join('')).toContain('refused the device key');
    expect(logText.join('')).not.toContain(KEY);
  });
});
