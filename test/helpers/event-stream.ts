/**
 * A reader of the backend's server-sent events (`GET /v1/events`) for tests, through node:http
 * with a connection of its own (fetch's pool may keep a spare connection open, which holds a
 * closing server open).
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { waitFor } from './wait.js';

export interface EventStreamReader {
  status: number;
  headers: IncomingHttpHeaders;
  /** Event names received so far, in order. */
  events: string[];
  /** Waits until `count` events named `name` have come in all (default 1). */
  waitFor(name: string, count?: number, timeoutMs?: number): Promise<void>;
  /** Whether the backend ended the stream. */
  ended(): boolean;
  close(): void;
}

export function openEventStream(
  url: string,
  token: string | undefined,
  fleet?: string,
): Promise<EventStreamReader> {
  const query = fleet === undefined ? '' : `?fleet=${encodeURIComponent(fleet)}`;
  return new Promise((resolve, reject) => {
    const req = request(new URL(`/v1/events${query}`, url), {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      agent: false,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const events: string[] = [];
      let ended = false;
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const name = buffer
            .slice(0, end)
            .split('\n')
            .find((line) => line.startsWith('event:'));
          buffer = buffer.slice(end + 2);
          if (name) events.push(name.slice('event:'.length).trim());
        }
      });
      res.on('close', () => (ended = true));
      // After the answer, a reset by our own close() is expected; any other error ends the stream.
      req.off('error', reject);
      req.on('error', () => (ended = true));
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        waitFor: async (name, count = 1, timeoutMs = 10_000) => {
          await waitFor(
            `${count} "${name}" events (got ${events.join(', ') || 'none'})`,
            () => events.filter((event) => event === name).length >= count,
            timeoutMs,
            20,
          );
        },
        ended: () => ended,
        close: () => req.destroy(),
      });
    });
    req.end();
  });
}
