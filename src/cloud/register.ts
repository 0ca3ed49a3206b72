import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Got } from 'got';
import pRetry, { AbortError } from 'p-retry';
import type { JsonStore } from '../store/json-store.js';
import type { Logger } from '../util/logger.js';
import { BosunError } from '../util/errors.js';
import { nextDelay, RETRY_AFTER_CAP_MS } from './backoff.js';
import {
  CloudAuthError,
  CloudResponseError,
  CloudUnavailableError,
  cloudRequest,
  createCloudHttp,
  errorForStatus,
} from './http.js';
import { clampDelay } from '../util/timers.js';

export interface RegisterOptions {
  endpoint: string;
  uuid: string;
  fleet: string;
  provisioningKey: string;
  /** Keeps the generated key across restarts (key `cloud-registration`). Strongly recommended. */
  store?: JsonStore;
  log: Logger;
  signal?: AbortSignal;
  userAgent?: string;
  requestTimeoutMs?: number;
  random?: () => number;
  /** Backoff for network errors and 5xx: first window, and cap. Defaults 1 s and 60 s. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** Wait after a refusal that a quick retry will not fix (401, 403, 404, 409). Default 60 s. */
  slowRetryMs?: number;
  http?: Got;
}

/** Registration cannot succeed by retrying: the request itself is wrong (400, 422). */
export class RegistrationRejectedError extends BosunError {
  override name = 'RegistrationRejectedError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super('EREGISTRATION_REJECTED', message, { transient: false });
  }
}

/** The uuid is registered already, but our key does not work for it. */
class RegisteredWithOtherKeyError extends BosunError {
  override name = 'RegisteredWithOtherKeyError';
  constructor() {
    super(
      'EREGISTERED_OTHER_KEY',
      'the cloud says this uuid is registered already, and it refuses our device key: ' +
        'remove the device in the fleet, or give the agent its device key (BOSUN_DEVICE_API_KEY)',
    );
  }
}

interface StoredRegistration {
  uuid: string;
  fleet: string;
  deviceApiKey: string;
  registered: boolean;
}

const STORE_KEY = 'cloud-registration';

/**
 * Registers this device with its fleet and returns the device key it will use from now on.
 *
 * The key is generated once and, with a store, persisted BEFORE the first request: if the cloud
 * registered us but the answer was lost (timeout, crash), the retry sends the same key, so the
 * cloud's 409 "already registered" is about our own key. A 409 therefore is not taken on trust:
 * the key is checked with one target poll. If the cloud accepts it, registration is complete;
 * if it refuses it, the uuid belongs to another key and we log that and retry slowly.
 *
 * Retries forever (until `signal` aborts): network errors and 5xx with full-jitter backoff
 * (honouring Retry-After); 401/403/404/409-with-another-key slowly, with a clear log, since an
 * operator can fix those on the cloud side. 400 and 422 are our request's fault and throw
 * RegistrationRejectedError. Neither key is ever logged.
 */
export async function registerDevice(opts: RegisterOptions): Promise<string> {
  const { log, store } = opts;
  const stored = await store?.read<StoredRegistration>(STORE_KEY);
  const reuse = stored && stored.uuid === opts.uuid && stored.fleet === opts.fleet ? stored : undefined;
  if (reuse?.registered) {
    log.info({ uuid: opts.uuid }, 'device registered earlier; using its stored key');
    return reuse.deviceApiKey;
  }
  const deviceApiKey = reuse?.deviceApiKey ?? randomBytes(32).toString('hex');
  const record: StoredRegistration = { uuid: opts.uuid, fleet: opts.fleet, deviceApiKey, registered: false };
  if (!reuse) await store?.write(STORE_KEY, record);

  const http =
    opts.http ?? createCloudHttp({ userAgent: opts.userAgent ?? 'bosun', timeoutMs: opts.requestTimeoutMs });
  const base = opts.endpoint.replace(/\/+$/, '');
  const random = opts.random ?? Math.random;

  const attempt = async (): Promise<void> => {
    const res = await cloudRequest(http, {
      method: 'POST',
      url: `${base}/device/register`,
      bearer: opts.provisioningKey,
      json: { uuid: opts.uuid, fleet: opts.fleet, deviceApiKey },
      signal: opts.signal,
    });
    if (res.status === 409) return confirmOwnKey();
    const failure = errorForStatus(res, 'device registration', new Date());
    if (failure instanceof CloudResponseError && (failure.status === 400 || failure.status === 422)) {
      throw new AbortError(new RegistrationRejectedError(failure.message, failure.status));
    }
    if (failure) throw failure;
  };

  /** After a 409: does the cloud accept our key for this uuid? */
  const confirmOwnKey = async (): Promise<void> => {
    const res = await cloudRequest(http, {
      method: 'GET',
      url: `${base}/device/v3/${encodeURIComponent(opts.uuid)}/state`,
      bearer: deviceApiKey,
      signal: opts.signal,
    });
    const failure = errorForStatus(res, 'device key check after 409', new Date());
    if (failure instanceof CloudAuthError) throw new RegisteredWithOtherKeyError();
    if (failure) throw failure;
    log.info({ uuid: opts.uuid }, 'cloud had this device registered with our key already');
  };

  await pRetry(attempt, {
    retries: Number.POSITIVE_INFINITY,
    // p-retry's own delay is off (0): ours has full jitter, Retry-After and slow auth retries.
    minTimeout: 0,
    signal: opts.signal,
    onFailedAttempt: async ({ error, attemptNumber }) => {
      const wait = waitAfter(error, attemptNumber, opts, random);
      log[wait.slow ? 'error' : 'warn'](
        { err: error.message, retryInMs: wait.ms, attempt: attemptNumber },
        wait.slow ? 'device registration refused; retrying slowly' : 'device registration failed; retrying',
      );
      await sleep(clampDelay(wait.ms), undefined, { signal: opts.signal });
    },
  });

  if (store) await store.write(STORE_KEY, { ...record, registered: true } satisfies StoredRegistration);
  log.info({ uuid: opts.uuid, fleet: opts.fleet }, 'device registered');
  return deviceApiKey;
}

function waitAfter(
  error: Error,
  attemptNumber: number,
  opts: RegisterOptions,
  random: () => number,
): { ms: number; slow: boolean } {
  const slowMs = opts.slowRetryMs ?? 60_000;
  if (error instanceof CloudUnavailableError) {
    const backoff = nextDelay(attemptNumber, {
      baseMs: opts.retryBaseMs ?? 1_000,
      capMs: opts.retryCapMs ?? 60_000,
      random,
    });
    return { ms: Math.max(backoff, Math.min(error.retryAfterMs ?? 0, RETRY_AFTER_CAP_MS)), slow: false };
  }
  return { ms: slowMs, slow: true };
}
