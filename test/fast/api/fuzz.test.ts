import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { EngineError, EngineUnavailableError } from '../../../src/engine/errors.js';
import { testApiServer } from '../../helpers/api-server.js';
import { APP1_KEY, APP2_KEY, FakeFacade, GLOBAL_KEY, type RecordedCall } from '../../helpers/fake-facade.js';

/** Reproduce a failure with API_FUZZ_SEED=<seed printed in the failure>. */
const SEED = Number(process.env.API_FUZZ_SEED ?? 0x5eed);
const REQUESTS = 6000;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUTES: Array<[string, string]> = [
  ['GET', '/ping'],
  ['GET', '/v1/healthy'],
  ['POST', '/v1/update'],
  ['POST', '/v1/restart'],
  ['POST', '/v1/reboot'],
  ['POST', '/v1/shutdown'],
  ['POST', '/v1/purge'],
  ['POST', '/v1/apps/:appId/stop'],
  ['POST', '/v1/apps/:appId/start'],
  ['GET', '/v1/apps/:appId'],
  ['GET', '/v1/device'],
  ['POST', '/v2/applications/:appId/restart-service'],
  ['POST', '/v2/applications/:appId/stop-service'],
  ['POST', '/v2/applications/:appId/start-service'],
  ['POST', '/v2/applications/:appId/restart'],
  ['POST', '/v2/applications/:appId/purge'],
  ['GET', '/v2/applications/state'],
  ['GET', '/v2/state/status'],
  ['GET', '/v2/locks'],
  ['GET', '/v2/local/target-state'],
  ['POST', '/v2/local/target-state'],
  ['GET', '/v2/version'],
  ['GET', '/v2/device/name'],
  ['GET', '/metrics'],
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;
const IDS = [
  '1',
  '2',
  '3',
  '0',
  '-1',
  'abc',
  '1.5',
  '%20',
  '99999999999999999999',
  '01',
  'x'.repeat(120),
  '%zz',
];
const ODD_PATHS = [
  '/',
  '/v9/x',
  '//ping',
  '/ping/extra',
  '/v1/../v1/update',
  '/v1/apps//stop',
  '/%',
  '/v2/locks?',
];
const FLAG_VALUES = [
  true,
  false,
  0,
  1,
  2,
  'true',
  'false',
  '1',
  '0',
  'on',
  'off',
  'yes',
  '',
  null,
  [],
  {},
  -1,
];
const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/octet-stream',
  ';;;',
  'a/b/c',
];
const MUTATING_DEVICE_WIDE = new Set(['triggerUpdate', 'reboot', 'shutdown']);

type Mode = 'normal' | 'ignored' | 'locked' | 'unhealthy' | 'engine-down' | 'engine-error';
const MODES: Mode[] = ['normal', 'ignored', 'locked', 'unhealthy', 'engine-down', 'engine-error'];

function applyMode(facade: FakeFacade, mode: Mode): void {
  facade.triggerResult = mode !== 'ignored';
  facade.health = mode === 'unhealthy' ? { healthy: false, reason: 'stalled' } : { healthy: true };
  facade.failAll =
    mode === 'engine-down'
      ? new EngineUnavailableError('engine socket missing')
      : mode === 'engine-error'
        ? new EngineError('engine said no', 500)
        : undefined;
  facade.lockedApps.clear();
  if (mode === 'locked') [1, 2].forEach((id) => facade.lockedApps.add(id));
}

function allowedStatuses(mode: Mode, path: string): Set<number> {
  const allowed = new Set([200, 202, 204, 400, 401, 403, 404, 405, 413]);
  if (mode === 'locked') allowed.add(423);
  if (mode === 'engine-down' || mode === 'engine-error') allowed.add(503);
  const healthyPath = /^\/v1\/healthy\/?$/.test(path);
  if (healthyPath && (mode === 'unhealthy' || mode === 'engine-down' || mode === 'engine-error'))
    allowed.add(500);
  return allowed;
}

interface FuzzRequest {
  options: InjectOptions;
  path: string;
  scope: 'none' | 'global' | 1 | 2;
}

function randomRequest(random: () => number): FuzzRequest {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const [routeMethod, pattern] = pick(ROUTES);
  const method = random() < 0.75 ? routeMethod : pick(METHODS);
  const path = random() < 0.08 ? pick(ODD_PATHS) : pattern.replace(':appId', () => pick(IDS));

  const keyChoice = pick(['none', 'global', 'global', 'app1', 'app2', 'wrong', 'empty'] as const);
  const key = {
    none: undefined,
    global: GLOBAL_KEY,
    app1: APP1_KEY,
    app2: APP2_KEY,
    wrong: 'nope',
    empty: '',
  }[keyChoice];
  const scope =
    keyChoice === 'global' ? 'global' : keyChoice === 'app1' ? 1 : keyChoice === 'app2' ? 2 : 'none';
  const headers: Record<string, string> = {};
  const query: string[] = [];
  if (random() < 0.2) query.push(`x=${Math.floor(random() * 100)}`);
  if (key !== undefined) {
    const where = pick(['query', 'bearer', 'apikey'] as const);
    if (where === 'query') query.push(`apikey=${encodeURIComponent(key)}`);
    else headers.authorization = `${where === 'bearer' ? 'Bearer' : 'ApiKey'} ${key}`;
  } else if (random() < 0.2) {
    headers.authorization = pick(['Basic Zm9vOmJhcg==', 'Bearer', 'garbage', `Token ${GLOBAL_KEY}`]);
  }
  const contentType = pick(CONTENT_TYPES);
  if (contentType !== undefined) headers['content-type'] = contentType;

  let payload: string | undefined;
  const bodyKind = random();
  if (bodyKind < 0.2) payload = undefined;
  else if (bodyKind < 0.25) payload = '';
  else if (bodyKind < 0.75) {
    const body: Record<string, unknown> = {};
    if (random() < 0.6) body.force = pick(FLAG_VALUES);
    if (random() < 0.3) body.cancel = pick(FLAG_VALUES);
    if (random() < 0.6) body.appId = pick([1, 2, 3, 0, -1, 1.5, '1', '2', 'x', null, true]);
    if (random() < 0.5) body.serviceName = pick(['main', 'helper', 'nope', '', 5, null]);
    if (random() < 0.2) body.imageId = pick([1001, 1002, 2001, 9, '1001', 'x', null]);
    if (random() < 0.2) body.local = pick([{ apps: {} }, null, 'x']);
    if (random() < 0.2) body.unknownField = 'ignored';
    payload = JSON.stringify(body);
  } else if (bodyKind < 0.85)
    payload = pick(['{bad', '{"force":', 'null', '[1,2]', '"s"', '42', 'force=1&appId=2']);
  else if (bodyKind < 0.93)
    payload = Array.from({ length: 40 }, () => String.fromCharCode(random() * 256)).join('');
  else if (bodyKind < 0.97) payload = `{"pad":"${'x'.repeat(70 * 1024)}"}`;
  else payload = `{"pad":"${'y'.repeat(1100 * 1024)}"}`;

  const url = `${path}${query.length > 0 ? `?${query.join('&')}` : ''}`;
  const options: InjectOptions = {
    method: method as InjectOptions['method'],
    url,
    headers,
    ...(payload === undefined ? {} : { payload }),
  };
  return { options, path, scope };
}

describe('src/api fuzz (seeded)', () => {
  let facade: FakeFacade;
  let app: FastifyInstance;

  beforeAll(async () => {
    facade = new FakeFacade();
    app = await testApiServer(facade, { localMode: true, version: '0.0.0' });
  });
  afterAll(async () => {
    await app.close();
  });

  it(`survives ${REQUESTS} random requests with the contract's codes (seed ${SEED})`, async () => {
    const random = prng(SEED);
    const statusCounts = new Map<number, number>();
    let authorisedMutations = 0;
    let mode: Mode = 'normal';

    for (let i = 0; i < REQUESTS; i += 1) {
      if (i % 300 === 0) {
        mode = MODES[(i / 300) % MODES.length] as Mode;
        applyMode(facade, mode);
      }
      const { options, path, scope } = randomRequest(random);
      const before = facade.calls.length;
      const res = await app.inject(options);
      const context = `request #${i} (seed ${SEED}, mode ${mode}): ${options.method} ${path} -> ${res.statusCode} ${res.body.slice(0, 200)}`;
      statusCounts.set(res.statusCode, (statusCounts.get(res.statusCode) ?? 0) + 1);

      if (!allowedStatuses(mode, path).has(res.statusCode)) throw new Error(`unexpected status: ${context}`);
      if (res.statusCode >= 400 && options.method !== 'HEAD') {
        const body = res.json() as { status?: unknown; message?: unknown };
        if (body.status !== 'failed' || typeof body.message !== 'string')
          throw new Error(`bad error body: ${context}`);
      }
      if (res.body.includes(GLOBAL_KEY)) throw new Error(`key echoed: ${context}`);

      const mutations: RecordedCall[] = facade.calls
        .slice(before)
        .filter(
          (c) =>
            c.method !== 'view' &&
            c.method !== 'locks' &&
            c.method !== 'healthy' &&
            c.method !== 'localTarget',
        );
      if (mutations.length > 0 && scope === 'none')
        throw new Error(`mutation without a valid key: ${context}`);
      for (const call of mutations) {
        if (typeof scope === 'number' && !MUTATING_DEVICE_WIDE.has(call.method) && call.args[0] !== scope) {
          throw new Error(`app-${scope} key acted on ${JSON.stringify(call)}: ${context}`);
        }
        if (typeof scope === 'number' && call.method === 'setLocalTarget') {
          throw new Error(`app key set the local target: ${context}`);
        }
        const forced = (call.args[0] as { force?: unknown } | undefined)?.force === true;
        if (typeof scope === 'number' && (call.method === 'reboot' || call.method === 'shutdown') && forced) {
          throw new Error(`app key forced a ${call.method}: ${context}`);
        }
        const caller = (call.args[0] as { caller?: unknown } | undefined)?.caller;
        const expectedCaller = scope === 'global' ? { scope: 'global' } : { scope: 'app', appId: scope };
        if (call.method === 'triggerUpdate' && JSON.stringify(caller) !== JSON.stringify(expectedCaller)) {
          throw new Error(`update triggered for the wrong caller ${JSON.stringify(caller)}: ${context}`);
        }
      }
      authorisedMutations += mutations.length;

      if (i % 250 === 0) {
        const ping = await app.inject({ method: 'GET', url: '/ping' });
        expect([ping.statusCode, ping.body]).toEqual([200, 'OK']);
      }
    }

    // The run must actually reach the interesting paths, or it proves nothing.
    expect(authorisedMutations).toBeGreaterThan(100);
    for (const status of [200, 204, 400, 401, 404, 405, 413, 423, 503]) {
      expect([status, (statusCounts.get(status) ?? 0) > 0]).toEqual([status, true]);
    }
    const ping = await app.inject({ method: 'GET', url: '/ping' });
    expect(ping.body).toBe('OK');
  });
});
