import { got, RequestError, type Got, type Method } from 'got';
import { BosunError } from '../util/errors.js';
import { parseRetryAfter } from './backoff.js';

/**
 * The cloud could not be reached or answered "not now" (network error, timeout, 5xx, 408, 429).
 * Transient: try again after a backoff, no sooner than `retryAfterMs` when the server said so.
 */
export class CloudUnavailableError extends BosunError {
  override name = 'CloudUnavailableError';
  constructor(
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
    options: { cause?: unknown } = {},
  ) {
    super('ECLOUD_UNAVAILABLE', message, { ...options, transient: true });
  }
}

/** 401 or 403: the cloud does not accept our key. Retrying soon will not help; retry slowly. */
export class CloudAuthError extends BosunError {
  override name = 'CloudAuthError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('ECLOUD_AUTH', message, { transient: false });
  }
}

/** The cloud answered, but not with what the contract says (unexpected status, unusable body). */
export class CloudResponseError extends BosunError {
  override name = 'CloudResponseError';
  constructor(
    message: string,
    readonly status: number,
    options: { cause?: unknown } = {},
  ) {
    super('ECLOUD_RESPONSE', message, { ...options, transient: false });
  }
}

export interface CloudHttpOptions {
  userAgent: string;
  /** Whole-request timeout (connect to last byte). */
  timeoutMs?: number;
}

const DEFAULT_CLOUD_TIMEOUT_MS = 30_000;

export function bosunUserAgent(version: string): string {
  return `bosun/${version}`;
}

/**
 * The one got instance the cloud modules use. got's own retry is off because every caller owns its
 * retry policy (backoff, Retry-After, slow auth retries), and HTTP errors come back as responses so
 * a status is classified in one place (`errorForStatus`) rather than by catching.
 */
export function createCloudHttp(opts: CloudHttpOptions): Got {
  return got.extend({
    timeout: { request: opts.timeoutMs ?? DEFAULT_CLOUD_TIMEOUT_MS },
    headers: { 'user-agent': opts.userAgent },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    responseType: 'text',
  });
}

export interface CloudResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Bytes of body as received. */
  bodyBytes: number;
}

export interface CloudRequest {
  method: Method;
  url: string;
  bearer: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** A body sent as it is (NDJSON log lines); give its content type in `headers`. */
  body?: string;
  signal?: AbortSignal;
}

/**
 * One request, no retries. Network failures and timeouts become CloudUnavailableError; every HTTP
 * status comes back as a response (see `errorForStatus`). Neither the key nor the request headers
 * are put into an error, so an error can be logged whole.
 */
export async function cloudRequest(http: Got, req: CloudRequest): Promise<CloudResponse> {
  try {
    const res = await http(req.url, {
      method: req.method,
      headers: { ...req.headers, authorization: `Bearer ${req.bearer}` },
      json: req.json,
      body: req.body,
      signal: req.signal,
    });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      bodyBytes: res.rawBody?.length ?? Buffer.byteLength(res.body),
    };
  } catch (err) {
    if (err instanceof RequestError) {
      const what = err.code ? `${err.code}: ${err.message}` : err.message;
      throw new CloudUnavailableError(
        `${req.method} ${pathOf(req.url)} failed (${what})`,
        undefined,
        undefined,
        {
          cause: scrub(err),
        },
      );
    }
    throw err;
  }
}

/** The error a status means, or undefined for 2xx and 304. */
export function errorForStatus(res: CloudResponse, what: string, now: Date): BosunError | undefined {
  const { status } = res;
  if ((status >= 200 && status < 300) || status === 304) return undefined;
  const detail = `${what}: HTTP ${status}${summary(res.body)}`;
  if (status === 401 || status === 403) return new CloudAuthError(detail, status);
  if (status >= 500 || status === 429 || status === 408) {
    const retryAfter = parseRetryAfter(headerValue(res.headers['retry-after']), now);
    return new CloudUnavailableError(detail, status, retryAfter);
  }
  return new CloudResponseError(detail, status);
}

export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A short, single-line excerpt of an error body for logs. */
function summary(body: string): string {
  const text = body.replace(/\s+/g, ' ').trim();
  if (text === '') return '';
  return `: ${text.length > 200 ? `${text.slice(0, 200)}...` : text}`;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url; // not absolute: already a path, nothing secret in it to strip
  }
}

/**
 * got errors carry the request options, headers included (our bearer key). Keep only what helps a
 * reader of the log.
 */
function scrub(err: RequestError): Error {
  const copy = new Error(err.message);
  copy.name = err.name;
  (copy as Error & { code?: string }).code = err.code;
  return copy;
}
