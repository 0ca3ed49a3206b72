import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  RegistrationRejectedError,
  registerDevice,
  type RegisterOptions,
} from '../../../src/cloud/register.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { FakeCloud } from '../../helpers/fake-cloud.js';
import { captureLog } from '../../helpers/log-capture.js';
import type { Logger } from '../../../src/util/logger.js';

const UUID = 'beef0000000000000000000000005678';
const ROUTE = 'POST /device/register';
const PROBE = `GET /device/v3/${UUID}/state`;
const PROVISIONING_KEY = 'prov-key-NEVER-IN-LOGS-91c3';

describe('cloud/register registerDevice against a real HTTP server', () => {
  let fake: FakeCloud;
  let dir: string;
  let logText: string[];
  let logger: Logger;

  beforeEach(async () => {
    fake = await FakeCloud.start();
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-register-'));
    ({ log: logger, lines: logText } = captureLog());
  });

  afterEach(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function options(over: Partial<RegisterOptions> = {}): RegisterOptions {
    return {
      endpoint: fake.url,
      uuid: UUID,
      fleet: 'kitchens',
      provisioningKey: PROVISIONING_KEY,
      store: new JsonStore(dir),
      log: logger,
      retryBaseMs: 50,
      retryCapMs: 100,
      slowRetryMs: 100,
      ...over,
    };
  }

  const bodies = () =>
    fake
      .requestsTo(ROUTE)
      .map((r) => JSON.parse(r.body) as { uuid: string; fleet: string; deviceApiKey: string });

  it('retries a failing server (500, then reset) with the same key until registered', async () => {
    fake.script(ROUTE, { status: 500, body: 'db down' }, { destroy: true }, { status: 201, body: { id: 1 } });
    const key = await registerDevice(options());

    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const sent = bodies();
    expect(sent).toHaveLength(3);
    for (const body of sent) expect(body).toEqual({ uuid: UUID, fleet: 'kitchens', deviceApiKey: key });
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${PROVISIONING_KEY}`);
    expect(fake.requests[0]!.headers['content-type']).toMatch(/application\/json/);

    const log = logText.join('');
    expect(log).toContain('device registration failed; retrying');
    expect(log).toContain('device registered');
    expect(log).not.toContain(PROVISIONING_KEY);
    expect(log).not.toContain(key);

    // Registered once: a restart uses the stored key without asking again.
    expect(await registerDevice(options())).toBe(key);
    expect(bodies()).toHaveLength(3);
  });

  it('keeps the generated key across an interrupted registration', async () => {
    fake.fallback(ROUTE, { status: 503 });
    const abort = new AbortController();
    const first = registerDevice(options({ signal: abort.signal }));
    await fake.waitForRequests(1);
    abort.abort();
    await expect(first).rejects.toThrow();
    const keyTried = bodies()[0]!.deviceApiKey;

    fake.script(ROUTE, { status: 201 });
    const key = await registerDevice(options());
    expect(key).toBe(keyTried);
    expect(bodies().at(-1)!.deviceApiKey).toBe(keyTried);
  });

  it('takes a 409 as success when the cloud accepts our key', async () => {
    fake.script(ROUTE, { status: 409, body: { message: 'already registered' } });
    fake.fallback(PROBE, { status: 200, body: { [UUID]: { apps: {} } } });
    const key = await registerDevice(options());
    const probe = fake.requestsTo(PROBE);
    expect(probe).toHaveLength(1);
    expect(probe[0]!.headers.authorization).toBe(`Bearer ${key}`);
    expect(logText.join('')).toContain('registered with our key already');
  });

  it('retries slowly, with a clear log, when the uuid is registered with another key', async () => {
    fake.fallback(ROUTE, { status: 409 });
    fake.fallback(PROBE, { status: 401 });
    const abort = new AbortController();
    const pending = registerDevice(options({ signal: abort.signal }));
    await fake.waitForRequests(4, 3000);
    abort.abort();
    await expect(pending).rejects.toThrow();
    const regs = fake.requestsTo(ROUTE);
    expect(regs[1]!.at - regs[0]!.at).toBeGreaterThanOrEqual(95); // slowRetryMs, not backoff
    expect(logText.join('')).toContain('registered already, and it refuses our device key');
  });

  it('retries slowly after a refused provisioning key, then registers', async () => {
    fake.script(ROUTE, { status: 401, body: { message: 'bad provisioning key' } }, { status: 200 });
    const key = await registerDevice(options());
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const regs = fake.requestsTo(ROUTE);
    expect(regs).toHaveLength(2);
    expect(regs[1]!.at - regs[0]!.at).toBeGreaterThanOrEqual(95);
    const log = logText.join('');
    expect(log).toContain('device registration refused; retrying slowly');
    expect(log).not.toContain(PROVISIONING_KEY);
  });

  it('fails at once on a 400: the request itself is wrong', async () => {
    fake.fallback(ROUTE, { status: 400, body: { message: 'fleet "kitchens" does not exist' } });
    const pending = registerDevice(options());
    await expect(pending).rejects.toBeInstanceOf(RegistrationRejectedError);
    await expect(pending).rejects.toThrow(/HTTP 400.*does not exist/);
    expect(fake.requests).toHaveLength(1);
  });
});
