import { describe, it, expect, beforeAll, afterAll, beforeEach } from '@jest/globals';
import type { FastifyInstance } from 'fastify';
import { parseRequestBody } from '../../../src/api/body-parser.js';
import { allowedMethods, classifyError } from '../../../src/api/error-reply.js';
import { BadRequestError, LockedError } from '../../../src/api/errors.js';
import { readFlag, readId, readServiceSelector } from '../../../src/api/input.js';
import { DEFAULT_BODY_LIMIT } from '../../../src/api/server.js';
import { EngineError, EngineUnavailableError } from '../../../src/engine/errors.js';
import { testApiServer } from '../../helpers/api-server.js';
import { FakeFacade, GLOBAL_KEY } from '../../helpers/fake-facade.js';

describe('src/api/input', () => {
  const TRUE_VALUES = [true, 1, 'true', '1', 'on', 'TRUE', ' On '];
  const FALSE_VALUES = [false, 0, 'false', '0', 'off', 'Off'];
  const BAD_VALUES = [2, -1, 0.5, 'yes', 'no', '', 'truee', null, [], {}, [true]];

  it.each(TRUE_VALUES)('readFlag(%j) is true', (value) =>
    expect(readFlag({ force: value }, 'force')).toBe(true),
  );
  it.each(FALSE_VALUES)('readFlag(%j) is false', (value) =>
    expect(readFlag({ force: value }, 'force')).toBe(false),
  );
  it.each(BAD_VALUES)('readFlag(%j) is a 400 naming the field', (value) => {
    expect(() => readFlag({ cancel: value }, 'cancel')).toThrow(BadRequestError);
    expect(() => readFlag({ cancel: value }, 'cancel')).toThrow(/^cancel must be a boolean/);
  });
  it('readFlag of an absent field is the fallback', () => {
    expect(readFlag({}, 'force')).toBe(false);
    expect(readFlag({}, 'force', true)).toBe(true);
  });

  it.each([
    [1, 1],
    ['12', 12],
    [' 7 ', 7],
    [9007199254740991, 9007199254740991],
  ])('readId(%j) = %j', (value, expected) => expect(readId(value, 'appId')).toBe(expected));
  it.each([0, -3, 1.5, '0', '01', '-1', '1e3', 'abc', '', '9007199254740993', null, true, {}])(
    'readId(%j) is a 400',
    (value) => expect(() => readId(value, 'appId')).toThrow(/^appId must be a positive integer/),
  );
  it('readId(undefined) says the field is required', () => {
    expect(() => readId(undefined, 'appId')).toThrow('appId is required');
  });

  it('readServiceSelector prefers serviceName, accepts imageId, requires one', () => {
    expect(readServiceSelector({ serviceName: 'main', imageId: 3 })).toEqual({ serviceName: 'main' });
    expect(readServiceSelector({ serviceName: '', imageId: '3' })).toEqual({ imageId: 3 });
    expect(() => readServiceSelector({})).toThrow('serviceName (or imageId) is required');
    expect(() => readServiceSelector({ imageId: 'x' })).toThrow(/imageId must be a positive integer/);
  });
});

describe('src/api/body-parser parseRequestBody', () => {
  it.each([
    [undefined, '', {}],
    ['application/json', '   ', {}],
    ['application/json', '{"force":true}', { force: true }],
    ['text/plain', '{"force":"1"}', { force: '1' }],
    ['application/x-www-form-urlencoded', '{"appId":1}', { appId: 1 }],
    ['application/x-www-form-urlencoded', 'appId=1&force=on', { appId: '1', force: 'on' }],
    ['application/octet-stream', '[1,2]', [1, 2]],
  ])('%s %j -> %j', (type, text, expected) => expect(parseRequestBody(type, text)).toEqual(expected));

  it.each([
    ['application/json', '{bad'],
    ['text/plain', 'force=1'],
    ['application/x-www-form-urlencoded', '{"appId":'],
    [undefined, '\u0000\u0001'],
  ])('%s %j is a 400', (type, text) => {
    expect(() => parseRequestBody(type, text)).toThrow(BadRequestError);
  });
});

describe('src/api/error-reply', () => {
  it('maps errors to the contract codes, never 500', () => {
    expect(classifyError(new LockedError('locked')).statusCode).toBe(423);
    expect(classifyError(new EngineUnavailableError('down')).statusCode).toBe(503);
    expect(classifyError(new EngineError('refused', 404)).statusCode).toBe(503);
    expect(classifyError(new TypeError('bug')).statusCode).toBe(503);
    expect(classifyError('a string').statusCode).toBe(503);
    expect(
      classifyError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'x' }).statusCode,
    ).toBe(413);
    expect(classifyError({ code: 'FST_WHATEVER', statusCode: 500, message: 'x' }).statusCode).toBe(503);
  });

  it('allowedMethods matches concrete paths against route patterns', () => {
    const routes = [
      { method: 'POST', url: '/v1/apps/:appId/stop' },
      { method: 'GET', url: '/v1/apps/:appId' },
      { method: 'HEAD', url: '/v1/apps/:appId' },
    ];
    expect(allowedMethods(routes, '/v1/apps/3/stop')).toEqual(['POST']);
    expect(allowedMethods(routes, '/v1/apps/3/')).toEqual(['GET', 'HEAD']);
    expect(allowedMethods(routes, '/v1/apps/3/stop/now')).toEqual([]);
    expect(allowedMethods(routes, '/v1/apps')).toEqual([]);
  });
});

describe('src/api server input handling and error codes', () => {
  let facade: FakeFacade;
  let app: FastifyInstance;
  const headers = { authorization: `Bearer ${GLOBAL_KEY}` };

  beforeAll(async () => {
    facade = new FakeFacade();
    app = await testApiServer(facade, { localMode: false, version: '1' });
  });
  afterAll(async () => {
    await app.close();
  });
  beforeEach(() => {
    facade.calls.length = 0;
    facade.failAll = undefined;
    facade.failures = {};
    facade.lockedApps.clear();
  });

  it('treats POST /v1/update with no body and no content type as {} (curl -X POST)', async () => {
    const res = await app.inject({ method: 'POST', url: `/v1/update?apikey=${GLOBAL_KEY}` });
    expect(res.statusCode).toBe(204);
    expect(facade.calls).toEqual([
      { method: 'triggerUpdate', args: [{ force: false, cancel: false, caller: { scope: 'global' } }] },
    ]);
  });

  it.each([
    ['application/json', ''],
    ['application/json', '{"force":"on"}'],
    ['text/plain', '{"force":1}'],
    ['application/x-www-form-urlencoded', '{"force":true}'],
    ['application/x-www-form-urlencoded', 'force=true'],
  ])('POST /v1/update with %s %j is accepted', async (type, payload) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/update',
      headers: { ...headers, 'content-type': type },
      payload,
    });
    expect(res.statusCode).toBe(204);
    expect(facade.calls).toHaveLength(1);
  });

  const TABLE: Array<[unknown, boolean | 'bad']> = [
    [true, true],
    [1, true],
    ['true', true],
    ['1', true],
    ['on', true],
    [false, false],
    [0, false],
    ['false', false],
    ['0', false],
    ['off', false],
    ['yes', 'bad'],
    [2, 'bad'],
    [null, 'bad'],
    [[true], 'bad'],
    [{}, 'bad'],
  ];
  it.each(TABLE)('force %j on /v1/restart -> %s', async (force, expected) => {
    const res = await app.inject({
      method: 'POST',
      url: '/v1/restart',
      headers,
      payload: { appId: 1, force },
    });
    if (expected === 'bad') {
      expect(res.statusCode).toBe(400);
      expect(res.json()).toEqual({ status: 'failed', message: expect.stringMatching(/^force must be/) });
      expect(facade.calls).toHaveLength(0);
    } else {
      expect(res.statusCode).toBe(200);
      expect(facade.calls).toEqual([
        { method: 'restartApp', args: [1, { force: expected, lockTimeoutMs: 10000 }] },
      ]);
    }
  });

  it('answers 400 for malformed JSON, non-object bodies and a malformed content type', async () => {
    const cases = [
      { 'content-type': 'application/json', payload: '{"force": tru' },
      { 'content-type': 'application/json', payload: '[1]' },
      { 'content-type': 'application/json', payload: 'null' },
      { 'content-type': 'application/json', payload: '"force"' },
      { 'content-type': 'text/plain', payload: 'just text' },
      { 'content-type': ';;;', payload: '{}' },
    ];
    for (const { payload, ...type } of cases) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/update',
        headers: { ...headers, ...type },
        payload,
      });
      expect([payload, res.statusCode]).toEqual([payload, 400]);
      expect(res.json().status).toBe('failed');
    }
    expect(facade.calls).toHaveLength(0);
  });

  it('answers 413 for a body over the limit', async () => {
    const payload = JSON.stringify({ force: true, pad: 'x'.repeat(DEFAULT_BODY_LIMIT) });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/update',
      headers: { ...headers, 'content-type': 'application/json' },
      payload,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json().status).toBe('failed');
    expect(facade.calls).toHaveLength(0);
  });

  it('answers 404 for an unknown route and 405 with Allow for a wrong method', async () => {
    let res = await app.inject({ method: 'GET', url: '/v3/nothing', headers });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ status: 'failed', message: 'no such endpoint: GET /v3/nothing' });
    res = await app.inject({ method: 'GET', url: '/v1/update', headers });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('POST');
    res = await app.inject({ method: 'DELETE', url: '/v2/applications/1/stop-service', headers });
    expect(res.statusCode).toBe(405);
    res = await app.inject({ method: 'PUT', url: '/v2/local/target-state', headers, payload: {} });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, POST');
    // A trailing slash reaches the same route.
    expect((await app.inject({ method: 'GET', url: '/v2/version/', headers })).statusCode).toBe(200);
  });

  it('answers 423 with the facade message when the app is locked, and passes force on', async () => {
    facade.lockedApps.add(1);
    let res = await app.inject({ method: 'POST', url: '/v1/restart', headers, payload: { appId: 1 } });
    expect(res.statusCode).toBe(423);
    expect(res.json()).toEqual({ status: 'failed', message: 'app 1 is locked by /tmp/balena/updates.lock' });
    for (const url of ['/v1/reboot', '/v1/shutdown', '/v1/apps/1/stop']) {
      expect((await app.inject({ method: 'POST', url, headers })).statusCode).toBe(423);
    }
    res = await app.inject({
      method: 'POST',
      url: '/v1/restart',
      headers,
      payload: { appId: 1, force: true },
    });
    expect(res.statusCode).toBe(200);
  });

  it('answers 503 for engine failures on every kind of endpoint', async () => {
    facade.failAll = new EngineUnavailableError('cannot reach /var/run/docker.sock');
    for (const [method, url] of [
      ['GET', '/v2/applications/state'],
      ['GET', '/v1/device'],
      ['POST', '/v1/update'],
      ['POST', '/v1/apps/1/stop'],
    ] as const) {
      const res = await app.inject({ method, url, headers });
      expect([url, res.statusCode]).toEqual([url, 503]);
      expect(res.json()).toEqual({ status: 'failed', message: 'cannot reach /var/run/docker.sock' });
    }
    facade.failAll = new EngineError('conflict', 409);
    expect((await app.inject({ method: 'POST', url: '/v1/reboot', headers })).statusCode).toBe(503);
    facade.failAll = new TypeError('a bug');
    const res = await app.inject({ method: 'GET', url: '/v2/locks', headers });
    expect(res.statusCode).toBe(503);
    expect(res.json().message).toBe('internal error: a bug');
    // /ping does not touch the facade and keeps answering.
    expect((await app.inject({ method: 'GET', url: '/ping' })).body).toBe('OK');
  });
});
