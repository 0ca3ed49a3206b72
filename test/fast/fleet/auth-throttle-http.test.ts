/**
 * Attack review finding: wrong manager tokens, provisioning keys and device keys were answered
 * as fast as the backend could (~8,500 guesses a second), nothing slowed a guesser down.
 *
 * Each client here has its own loopback source address (127.0.0.0/8 is all loopback on Linux),
 * so the throttled source and the well-behaved ones are told apart as on a real network.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_AUTH_THROTTLE } from '../../../src/fleet/auth-throttle.js';
import { startFleetServer, type FleetServer, type FleetServerOptions } from '../../../src/fleet/server.js';
import { httpCall, type HttpCallOptions } from '../../helpers/fleet-http.js';

const TOKEN = 'manager-token-for-throttle-tests';
const ATTACKER = '127.0.0.2';
const MANAGER = '127.0.0.3';

describe('fleet backend: failed authentication is throttled per source address', () => {
  let dir: string;
  let server: FleetServer;

  async function start(options: Partial<FleetServerOptions> = {}): Promise<void> {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-fleet-throttle-'));
    server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      dbFile: path.join(dir, 'fleet.db'),
      token: TOKEN,
      ...options,
    });
  }

  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = (method: string, route: string, options: HttpCallOptions) =>
    httpCall(server.url, method, route, options);

  /** Sends `count` requests one after another; the statuses, in order. */
  async function hammer(count: number, send: () => ReturnType<typeof httpCall>): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i++) statuses.push((await send()).status);
    return statuses;
  }

  it('answers 429 with Retry-After after repeated wrong manager tokens; the right token still works elsewhere', async () => {
    await start();
    const { maxFailures, windowMs } = DEFAULT_AUTH_THROTTLE;
    const guesses = await hammer(maxFailures + 5, () =>
      call('GET', '/v1/fleets', { key: 'guessed-token', localAddress: ATTACKER }),
    );
    expect(guesses).toEqual([...Array(maxFailures).fill(401), ...Array(5).fill(429)]);

    const blocked = await call('GET', '/v1/fleets', { key: 'another-guess', localAddress: ATTACKER });
    expect(blocked.status).toBe(429);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(windowMs / 1000);
    expect(blocked.json()).toEqual({
      error: 'EFLEET_TOO_MANY_FAILURES',
      message: expect.stringMatching(/too many failed authentications.*retry after \d+ s/),
    });
    // Even the right token from the blocked source waits: a guess that happens to be right must
    // not be told apart from a wrong one while the source is blocked.
    expect((await call('GET', '/v1/fleets', { key: TOKEN, localAddress: ATTACKER })).status).toBe(429);

    // Another source is not affected, and its successes are never counted or throttled.
    const manager = await hammer(maxFailures * 3, () =>
      call('GET', '/v1/fleets', { key: TOKEN, localAddress: MANAGER }),
    );
    expect(new Set(manager)).toEqual(new Set([200]));
  });

  it('counts wrong provisioning keys and wrong device keys too', async () => {
    await start({ authThrottle: { maxFailures: 3 } });
    const created = await call('POST', '/v1/fleets', { key: TOKEN, body: { name: 'kitchen' } });
    const { provisioningKey } = created.json();
    const register = (key: string, deviceApiKey: string, localAddress: string) =>
      call('POST', '/device/register', {
        key,
        body: { uuid: 'device-0001', fleet: 'kitchen', deviceApiKey },
        localAddress,
      });
    expect((await register(provisioningKey, 'device-key-0001', '127.0.0.1')).status).toBe(201);

    expect(await hammer(4, () => register('wrong-provisioning-key', 'device-key-0002', '127.0.0.4'))).toEqual(
      [401, 401, 401, 429],
    );
    // A known device uuid with another device key: a wrong key too (409).
    expect(await hammer(4, () => register(provisioningKey, 'guessed-device-key', '127.0.0.5'))).toEqual([
      409, 409, 409, 429,
    ]);
    const poll = (key: string, localAddress: string) =>
      call('GET', '/device/v3/device-0001/state', { key, localAddress });
    expect(await hammer(4, () => poll('guessed-device-key', '127.0.0.6'))).toEqual([401, 401, 401, 429]);
    const report = (key: string, localAddress: string) =>
      call('PATCH', '/device/v3/state', { key, body: { 'device-0001': { status: 'x' } }, localAddress });
    expect(await hammer(4, () => report('guessed-device-key', '127.0.0.7'))).toEqual([401, 401, 401, 429]);

    // The device itself, from its own address, polls and reports as before.
    expect((await poll('device-key-0001', '127.0.0.1')).status).toBe(200);
    expect((await report('device-key-0001', '127.0.0.1')).status).toBe(200);
  });

  it('lets a blocked source try again once its window has passed', async () => {
    await start({ authThrottle: { maxFailures: 2, windowMs: 1000 } });
    const guess = () => call('GET', '/v1/fleets', { key: 'guessed-token', localAddress: ATTACKER });
    expect(await hammer(3, guess)).toEqual([401, 401, 429]);
    const blocked = await guess();
    expect(blocked.headers['retry-after']).toBe('1');
    await sleep(1100);
    expect((await call('GET', '/v1/fleets', { key: TOKEN, localAddress: ATTACKER })).status).toBe(200);
    expect(await hammer(3, guess)).toEqual([401, 401, 429]);
  });
});
