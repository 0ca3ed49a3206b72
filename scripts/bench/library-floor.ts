/**
 * The library floor of an idle agent, for poll-idle: the libraries `bosun agent` is built on doing
 * the least an idle agent does, with none of bosun's own code. got polls the target with
 * If-None-Match every interval, a plain node:http server listens on 127.0.0.1 (the local API's
 * front: an idle agent builds its fastify app on the first request only, src/api/front.ts),
 * dockerode lists the engine's containers once (the agent reads the engine at start), pino logs
 * at `silent`.
 *
 * poll-idle bundles this file with the shipped bundle's own esbuild options
 * (scripts/build/bundle-options.ts), so ssh2 and gRPC are left out here too: the floor and the
 * bundle are measured on equal terms, and the difference between them is what bosun's own code
 * and its smaller libraries (convict, luxon, commander, proper-lockfile) cost.
 */
import Docker from 'dockerode';
import { got } from 'got';
import { createServer } from 'node:http';
import { pino } from 'pino';

export interface LibraryFloorOptions {
  /** The fake cloud: polls go to `<url>/device/v3/<uuid>/state`. */
  url: string;
  uuid: string;
  intervalMs: number;
  dockerSocket: string;
  onPoll(): void;
}

/** Starts the floor program; resolves to a function that stops it. */
export async function startLibraryFloor(options: LibraryFloorOptions): Promise<() => Promise<void>> {
  const log = pino({ level: 'silent' });
  const api = createServer((_request, response) => response.end('OK'));
  await new Promise<void>((resolve, reject) => {
    api.once('error', reject);
    api.listen({ port: 0, host: '127.0.0.1' }, resolve);
  });
  await new Docker({ socketPath: options.dockerSocket }).listContainers({ all: true });

  const client = got.extend({ retry: { limit: 0 }, timeout: { request: 10_000 } });
  let etag: string | undefined;
  const poll = async () => {
    const res = await client.get(`${options.url}/device/v3/${options.uuid}/state`, {
      headers: { authorization: 'Bearer bench-device-key', ...(etag ? { 'if-none-match': etag } : {}) },
      throwHttpErrors: false,
    });
    if (res.statusCode === 200) {
      JSON.parse(res.body);
      etag = res.headers.etag;
    }
    log.debug({ status: res.statusCode }, 'polled');
    options.onPoll();
  };
  const timer = setInterval(() => {
    poll().catch((err: unknown) => process.stderr.write(`library floor: poll failed: ${String(err)}\n`));
  }, options.intervalMs);
  // The agent polls at once when it starts; so does the floor.
  await poll();
  return async () => {
    clearInterval(timer);
    await new Promise<void>((resolve, reject) => api.close((err) => (err ? reject(err) : resolve())));
  };
}
