import { describe, it, expect } from '@jest/globals';
import {
  CloudAuthError,
  CloudResponseError,
  CloudUnavailableError,
  bosunUserAgent,
  errorForStatus,
  type CloudResponse,
} from '../../../src/cloud/http.js';
import { isJsonContentType, parseTargetResponse } from '../../../src/cloud/poll-response.js';
import { BosunError } from '../../../src/util/errors.js';

const now = new Date('2024-03-01T12:00:00Z');
const response = (status: number, headers: CloudResponse['headers'] = {}, body = ''): CloudResponse => ({
  status,
  headers,
  body,
  bodyBytes: Buffer.byteLength(body),
});

describe('cloud/http errorForStatus', () => {
  it.each([200, 201, 204, 304])('%i is no error', (status) => {
    expect(errorForStatus(response(status), 'x', now)).toBeUndefined();
  });

  it.each([401, 403])('%i is an auth error, not transient', (status) => {
    const err = errorForStatus(response(status), 'poll', now);
    expect(err).toBeInstanceOf(CloudAuthError);
    expect(err).toBeInstanceOf(BosunError);
    expect(err?.code).toBe('ECLOUD_AUTH');
    expect(err?.transient).toBe(false);
  });

  it.each([500, 502, 503, 429, 408])('%i is transient', (status) => {
    const err = errorForStatus(response(status), 'poll', now);
    expect(err).toBeInstanceOf(CloudUnavailableError);
    expect(err?.transient).toBe(true);
    expect((err as CloudUnavailableError).status).toBe(status);
  });

  it('carries Retry-After in milliseconds, both forms', () => {
    const a = errorForStatus(response(503, { 'retry-after': '2' }), 'poll', now) as CloudUnavailableError;
    expect(a.retryAfterMs).toBe(2000);
    const b = errorForStatus(
      response(429, { 'retry-after': 'Fri, 01 Mar 2024 12:00:03 GMT' }),
      'poll',
      now,
    ) as CloudUnavailableError;
    expect(b.retryAfterMs).toBe(3000);
  });

  it.each([400, 404, 409, 302])('%i is a response error with its status', (status) => {
    const err = errorForStatus(response(status, {}, 'nope'), 'poll', now);
    expect(err).toBeInstanceOf(CloudResponseError);
    expect((err as CloudResponseError).status).toBe(status);
    expect(err?.message).toContain(`HTTP ${status}: nope`);
  });

  it('builds the User-Agent', () => {
    expect(bosunUserAgent('1.2.3')).toBe('bosun/1.2.3');
  });
});

describe('cloud/poll-response parseTargetResponse', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    ['application/vnd.balena+json', true],
    ['text/html', false],
    ['text/plain', false],
    [undefined, false],
  ])('content type %p is JSON: %p', (type, expected) => {
    expect(isJsonContentType(type)).toBe(expected);
  });

  it('accepts a JSON object', () => {
    const parsed = parseTargetResponse(response(200, { 'content-type': 'application/json' }, '{"a":{}}'));
    expect(parsed).toEqual({ ok: true, doc: { a: {} } });
  });

  it.each([
    [
      { 'content-type': 'text/html' },
      '<html>502 Bad Gateway</html>',
      /not JSON \(content-type text\/html.*<html>502/,
    ],
    [{}, '{}', /content-type missing/],
    [{ 'content-type': 'application/json' }, '{"abc": {"apps": {', /truncated or malformed JSON/],
    [{ 'content-type': 'application/json' }, '', /empty body/],
    [{ 'content-type': 'application/json' }, '[1,2]', /not an object \(an array\)/],
    [{ 'content-type': 'application/json' }, 'null', /not an object \(null\)/],
  ])('rejects %p %p', (headers, body, reason) => {
    const parsed = parseTargetResponse(response(200, headers, body));
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toMatch(reason);
  });
});
