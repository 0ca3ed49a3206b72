import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { TargetPoller } from '../../../src/cloud/target-poller.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { clampDelay, MAX_TIMER_DELAY_MS } from '../../../src/util/timers.js';
import { Waker } from '../../../src/util/waker.js';
import { sleep } from '../../helpers/wait.js';
import { FakeCloud } from '../../helpers/fake-cloud.js';

/** 30 days: past setTimeout's 2^31-1 ms, where Node fires after 1 ms instead. */
const THIRTY_DAYS_MS = 2_592_000_000;

describe('util/timers: every delay bosun waits is one a timer can hold', () => {
  it.each([
    [THIRTY_DAYS_MS, MAX_TIMER_DELAY_MS],
    [Infinity, MAX_TIMER_DELAY_MS],
    [1000, 1000],
    [-5, 0],
    [NaN, 0],
  ])('clampDelay(%p) is %p', (ms, expected) => {
    expect(clampDelay(ms)).toBe(expected);
  });

  it('a Waker asked to sleep 30 days does not wake at once', async () => {
    const waker = new Waker();
    let woke = false;
    void waker.sleep(THIRTY_DAYS_MS).then(() => (woke = true));
    await sleep(100);
    expect(woke).toBe(false);
    waker.wake();
    await sleep(0);
    expect(woke).toBe(true);
  });

  it('a poller with a 30-day interval polls once, not hundreds of times a second', async () => {
    const uuid = 'd0c0ffee00000000000000000000abce';
    const cloud = await FakeCloud.start();
    const dir = await mkdtemp(path.join(tmpdir(), 'bosun-timers-'));
    const poller = new TargetPoller({
      endpoint: cloud.url,
      uuid,
      getDeviceKey: () => 'key',
      store: new JsonStore(dir),
      log: silentLogger(),
      onTarget: async () => ({ accepted: true }),
      onRejected: () => undefined,
      intervalMs: () => THIRTY_DAYS_MS,
      instantUpdates: () => true,
      userAgent: 'bosun/test',
      random: () => 0,
    });
    try {
      cloud.fallback(`GET /device/v3/${uuid}/state`, { status: 304, headers: { etag: '"a"' } });
      poller.start();
      await sleep(500);
      expect(cloud.requests.length).toBe(1);
    } finally {
      await poller.stop();
      await cloud.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
