// @ts-check
/**
 * Follows `GET /v1/events` (server-sent events) with fetch, so the token travels in the
 * Authorization header (EventSource cannot set one). Calls `onChange` when the backend says
 * the fleet changed, and also after every reconnect (changes may have passed meanwhile).
 * Reconnects with a growing pause until `signal` aborts.
 */
import { request, Unauthorized } from './api.js';

const RETRY_MS = [1000, 2000, 5000, 10000];
/**
 * The backend writes at least a comment every 20 s: a stream silent for longer than this is
 * dead (a laptop that slept, a dropped network) and is opened again.
 */
const SILENCE_MS = 45_000;

/**
 * @param {{
 *   token: string,
 *   fleet?: string,
 *   signal: AbortSignal,
 *   onChange: () => void,
 *   onLive: (live: boolean) => void,
 *   onUnauthorized: () => void,
 * }} options
 */
export async function followChanges({ token, fleet, signal, onChange, onLive, onUnauthorized }) {
  const path = fleet === undefined ? '/v1/events' : `/v1/events?fleet=${encodeURIComponent(fleet)}`;
  let failures = 0;
  let connectedBefore = false;
  while (!signal.aborted) {
    try {
      const response = await request(token, path, signal);
      for await (const event of serverSentEvents(response, signal)) {
        if (event === 'ready') {
          failures = 0;
          onLive(true);
          if (connectedBefore) onChange();
          connectedBefore = true;
        } else if (event === 'change') onChange();
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof Unauthorized) return onUnauthorized();
      console.warn('dashboard: change stream failed', err);
    }
    if (signal.aborted) return;
    onLive(false);
    await pause(RETRY_MS[Math.min(failures, RETRY_MS.length - 1)] ?? 10000, signal);
    failures += 1;
  }
}

/**
 * The event names of a text/event-stream body, as they come (data and comments are not needed:
 * every event only says "look again").
 * @param {Response} response
 * @param {AbortSignal} signal
 * @returns {AsyncGenerator<string>}
 */
async function* serverSentEvents(response, signal) {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const stop = () => void reader.cancel();
  signal.addEventListener('abort', stop);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let silence;
  let buffer = '';
  try {
    for (;;) {
      clearTimeout(silence);
      silence = setTimeout(stop, SILENCE_MS);
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const name = block.split('\n').find((line) => line.startsWith('event:'));
        if (name) yield name.slice('event:'.length).trim();
      }
    }
  } finally {
    clearTimeout(silence);
    signal.removeEventListener('abort', stop);
  }
}

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 * @param {number} ms
 * @param {AbortSignal} signal
 */
export function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve(undefined);
    }
    signal.addEventListener('abort', done);
  });
}
