/**
 * Benchmark 6a: conditional target polls against the fleet backend.
 *
 * Starts the backend in-process on a temp db with N registered devices, then fires conditional
 * GETs (If-None-Match = the device's current ETag, spread over every device uuid) with
 * autocannon for a bounded time, and compares with a bare fastify route that only answers 304.
 * autocannon runs in a worker thread so it does not share the server's event loop.
 *
 *   npm run build && node dist/scripts/bench/fleet-backend.js [--devices 1000,10000] [--seconds 5]
 *
 * Goal: at least 5,000 conditional polls per second.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { parseCompose } from '../../src/fleet/compose.js';
import { startFleetServer } from '../../src/fleet/server.js';

const GOAL_POLLS_PER_SECOND = 5000;

interface AutocannonRequest {
  method: 'GET';
  path: string;
  headers: Record<string, string>;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  '3xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  workers: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;

// autocannon ships no types; this is the slice of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

interface Measurement {
  pollsPerSecond: number;
  p50: number;
  p99: number;
  notModified: number;
  total: number;
  failures: number;
}

interface BenchOptions {
  deviceCounts: number[];
  seconds: number;
  connections: number;
}

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = { deviceCounts: [1000, 10000], seconds: 5, connections: 20 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ''];
    if (flag === '--devices') options.deviceCounts = value.split(',').map(Number);
    else if (flag === '--seconds') options.seconds = Number(value);
    else if (flag === '--connections') options.connections = Number(value);
    else throw new Error(`unknown option ${flag} (use --devices 1000,10000 --seconds 5 --connections 20)`);
  }
  if (options.deviceCounts.some((n) => !Number.isInteger(n) || n < 1) || !(options.seconds > 0)) {
    throw new Error('--devices takes whole numbers, --seconds a positive number');
  }
  return options;
}

async function measure(
  url: string,
  requests: AutocannonRequest[],
  options: BenchOptions,
): Promise<Measurement> {
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    workers: 1,
    requests,
  });
  return {
    pollsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    notModified: result['3xx'],
    total: result.requests.total,
    failures: result.errors + result.timeouts,
  };
}

/** Starts the backend with `count` devices on the fleet's release; returns one poll per device. */
async function seededBackend(count: number, dbFile: string) {
  const server = await startFleetServer({
    port: 0,
    address: '127.0.0.1',
    dbFile,
    token: 'bench-manager-token',
  });
  const { store } = server;
  const fleet = store.fleets.create('bench');
  const spec = parseCompose({
    services: {
      main: { image: '127.0.0.1:5000/bosun/demo:1', command: ['sleep', '3600'], network_mode: 'none' },
    },
  });
  store.fleets.createRelease('bench', spec, 'bench');
  const requests: AutocannonRequest[] = [];
  store.db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const uuid = `bench-device-${String(i).padStart(6, '0')}`;
      const key = `bench-device-key-${i}`;
      store.devices.register({ uuid, fleet: 'bench', deviceApiKey: key }, fleet.provisioningKey);
      const etag = store.devices.pollState(uuid)?.target_etag ?? '';
      requests.push({
        method: 'GET',
        path: `/device/v3/${uuid}/state`,
        headers: { authorization: `Bearer ${key}`, 'if-none-match': etag },
      });
    }
  })();
  return { server, requests: shuffle(requests) };
}

/** The floor: fastify answering 304 with no work at all, on the same requests. */
async function bareBaseline() {
  const app = Fastify({ logger: false });
  app.get('/device/v3/:uuid/state', (_request, reply) => reply.code(304).send());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
}

/** Deterministic shuffle, so consecutive requests hit scattered rows as a real fleet would. */
function shuffle<T>(items: T[]): T[] {
  let seed = 42;
  for (let i = items.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function line(label: string, m: Measurement): string {
  return (
    `${label.padEnd(24)} ${Math.round(m.pollsPerSecond).toString().padStart(7)} polls/s` +
    `  p50 ${m.p50} ms  p99 ${m.p99} ms  (${m.notModified}/${m.total} answered 304, ${m.failures} errors)`
  );
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(path.join(tmpdir(), 'bosun-fleet-bench-'));
  try {
    for (const count of options.deviceCounts) {
      const { server, requests } = await seededBackend(count, path.join(dir, `fleet-${count}.db`));
      let fleet: Measurement;
      try {
        fleet = await measure(server.url, requests, options);
      } finally {
        await server.close();
      }
      const bare = await bareBaseline();
      let baseline: Measurement;
      try {
        baseline = await measure(bare.url, requests, options);
      } finally {
        await bare.close();
      }
      const ratio = fleet.pollsPerSecond / baseline.pollsPerSecond;
      const allConditional = fleet.notModified === fleet.total && fleet.failures === 0;
      const meetsGoal = fleet.pollsPerSecond >= GOAL_POLLS_PER_SECOND && allConditional;
      console.log(`\n${count} devices, ${options.connections} connections, ${options.seconds} s each`);
      console.log(line('fleet backend', fleet));
      console.log(line('bare fastify 304', baseline));
      console.log(
        `ratio ${ratio.toFixed(2)} of bare fastify; goal >= ${GOAL_POLLS_PER_SECOND} polls/s: ` +
          `${meetsGoal ? 'met' : 'NOT met'}${allConditional ? '' : ' (not every poll answered 304)'}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // A benchmark reports; it does not fail on a missed goal (the line above says NOT met).
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`fleet-backend bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
