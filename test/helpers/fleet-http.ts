import { request } from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface HttpCallOptions {
  /** Sent as `Authorization: Bearer <key>`. */
  key?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as it is (with `content-type: application/json` unless headers say otherwise). */
  raw?: string;
  headers?: Record<string, string>;
  /**
   * The loopback address the request comes from (any of 127.0.0.0/8 on Linux), so a test can be
   * two clients at once: the one a per-source throttle blocks and another.
   */
  localAddress?: string;
}

/**
 * One HTTP request to a fleet backend on this machine, through node:http (fetch cannot choose
 * its source address). Resolves with the whole answer; rejects only on a network error.
 */
export function httpCall(
  baseUrl: string,
  method: string,
  route: string,
  options: HttpCallOptions = {},
): Promise<HttpAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(route, baseUrl),
      { method, headers, localAddress: options.localAddress, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
