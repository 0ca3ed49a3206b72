/**
 * Benchmark 6a: conditional target polls against the fleet backend.
 *
 * Starts the backend in-process on a temp SQLite db with N registered devices, then fires
 * conditional GETs (If-None-Match = the device's current ETag, spread over every device uuid)
 * with autocannon for a bounded time, and compares with a bare fastify route that only answers
 * 304. Then the same on PostgreSQL (a scratch database on the stack's cluster): one backend
 * in-process, and two `bosun fleet serve` processes on that database with the connections
 * split between them. autocannon runs in worker threads so it does not share a server's event
 * loop.
 *
 *   npm run build && node dist/scripts/bench/fleet-backend.js [--devices 1000,10000] [--seconds 5]
 *     [--backends sqlite,postgres]
 *
 * Goal: at least 5,000 conditional polls per second.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { parseCompose } from '../../src/fleet/compose.js';
import { startFleetServer } from '../../src/fleet/server.js';
import { startBackendProcess } from './fleet-sim-processes.js';
import { ScratchDatabases, type FleetBackend } from './scratch-databases.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli.js');
const TOKEN = 'bench-manager-token';
/** Registrations in flight at once while seeding (each is a short transaction). */
const SEED_CONCURRENCY = 16;

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
  backends: FleetBackend[];
}

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    deviceCounts: [1000, 10000],
    seconds: 5,
    connections: 20,
    backends: ['sqlite', 'postgres'],
  };
  const usage = '--devices 1000,10000 --seconds 5 --connections 20 --backends sqlite,postgres';
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1] ?? ''];
    if (flag === '--devices') options.deviceCounts = value.split(',').map(Number);
    else if (flag === '--seconds') options.seconds = Number(value);
    else if (flag === '--connections') options.connections = Number(value);
    else if (flag === '--backends') options.backends = value.split(',') as FleetBackend[];
    else throw new Error(`unknown option ${flag} (use ${usage})`);
  }
  if (options.deviceCounts.some((n) => !Number.isInteger(n) || n < 1) || !(options.seconds > 0)) {
    throw new Error('--devices takes whole numbers, --seconds a positive number');
  }
  if (options.backends.some((b) => b !== 'sqlite' && b !== 'postgres')) {
    throw new Error('--backends takes sqlite and/or postgres');
  }
  return options;
}

async function measure(
  url: string,
  requests: AutocannonRequest[],
  options: BenchOptions,
  connections = options.connections,
): Promise<Measurement> {
  const result = await autocannon({
    url,
    connections,
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
async function seededBackend(count: number, database: string) {
  const server = await startFleetServer({ port: 0, address: '127.0.0.1', database, token: TOKEN });
  const { store } = server;
  const fleet = await store.fleets.create('bench');
  const spec = parseCompose({
    services: {
      main: { image: '127.0.0.1:5000/bosun/demo:1', command: ['sleep', '3600'], network_mode: 'none' },
    },
  });
  await store.fleets.createRelease('bench', spec, 'bench');
  const requests: AutocannonRequest[] = [];
  for (let start = 0; start < count; start += SEED_CONCURRENCY) {
    const indexes = Array.from({ length: Math.min(SEED_CONCURRENCY, count - start) }, (_, i) => start + i);
    await Promise.all(
      indexes.map(async (i) => {
        const uuid = `bench-device-${String(i).padStart(6, '0')}`;
        const key = `bench-device-key-${i}`;
        await store.devices.register({ uuid, fleet: 'bench', deviceApiKey: key }, fleet.provisioningKey);
        const etag = (await store.devices.pollState(uuid))?.target_etag ?? '';
        requests.push({
          method: 'GET',
          path: `/device/v3/${uuid}/state`,
          headers: { authorization: `Bearer ${key}`, 'if-none-match': etag },
        });
      }),
    );
  }
  return { server, requests: shuffle(requests.sort((x, y) => (x.path < y.path ? -1 : 1))) };
}

/**
 * Polls spread over two backend processes on one database, the connections split between them,
 * at the same time: the sum of their rates, the worse of their latencies.
 */
async function measureTwoProcesses(
  database: string,
  requests: AutocannonRequest[],
  options: BenchOptions,
): Promise<Measurement> {
  const start = () => startBackendProcess({ cli: CLI, database, token: TOKEN });
  const backends = [await start(), await start()];
  try {
    const half = Math.max(1, Math.floor(options.connections / 2));
    const [first, second] = await Promise.all(
      backends.map((backend) => measure(backend.url, requests, options, half)),
    );
    return {
      pollsPerSecond: first!.pollsPerSecond + second!.pollsPerSecond,
      p50: Math.max(first!.p50, second!.p50),
      p99: Math.max(first!.p99, second!.p99),
      notModified: first!.notModified + second!.notModified,
      total: first!.total + second!.total,
      failures: first!.failures + second!.failures,
    };
  } finally {
    await Promise.all(backends.map((backend) => backend.stop()));
  }
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

/** The backend's rows for one database kind: in-process, and for PostgreSQL two processes too. */
async function measureBackend(
  backend: FleetBackend,
  count: number,
  databases: ScratchDatabases,
  options: BenchOptions,
): Promise<{ rows: Array<[string, Measurement]>; requests: AutocannonRequest[] }> {
  const database = await databases.fresh();
  const seedStart = Date.now();
  const { server, requests } = await seededBackend(count, database);
  const seeded = `seeded in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`;
  const rows: Array<[string, Measurement]> = [];
  try {
    rows.push([`${backend}, 1 backend`, await measure(server.url, requests, options)]);
  } finally {
    await server.close();
  }
  if (backend === 'postgres') {
    rows.push(['postgres, 2 processes', await measureTwoProcesses(database, requests, options)]);
  }
  console.log(`  (${backend}: ${seeded})`);
  return { rows, requests };
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const scratch = new Map(options.backends.map((backend) => [backend, new ScratchDatabases(backend)]));
  try {
    for (const count of options.deviceCounts) {
      console.log(`\n${count} devices, ${options.connections} connections, ${options.seconds} s each`);
      const rows: Array<[string, Measurement]> = [];
      let requests: AutocannonRequest[] = [];
      for (const [backend, databases] of scratch) {
        const measured = await measureBackend(backend, count, databases, options);
        rows.push(...measured.rows);
        requests = measured.requests;
      }
      const bare = await bareBaseline();
      let baseline: Measurement;
      try {
        baseline = await measure(bare.url, requests, options);
      } finally {
        await bare.close();
      }
      for (const [label, measurement] of rows) console.log(line(label, measurement));
      console.log(line('bare fastify 304', baseline));
      for (const [label, measurement] of rows) {
        const ratio = measurement.pollsPerSecond / baseline.pollsPerSecond;
        const allConditional = measurement.notModified === measurement.total && measurement.failures === 0;
        const meetsGoal = measurement.pollsPerSecond >= GOAL_POLLS_PER_SECOND && allConditional;
        console.log(
          `${label}: ratio ${ratio.toFixed(2)} of bare fastify; goal >= ${GOAL_POLLS_PER_SECOND} polls/s: ` +
            `${meetsGoal ? 'met' : 'NOT met'}${allConditional ? '' : ' (not every poll answered 304)'}`,
        );
      }
    }
  } finally {
    for (const databases of scratch.values()) await databases.dispose();
  }
  // A benchmark reports; it does not fail on a missed goal (the lines above say NOT met).
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`fleet-backend bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
