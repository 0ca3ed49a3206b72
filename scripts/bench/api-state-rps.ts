/**
 * Throughput of the local API's busiest read: GET /v2/applications/state (apps poll it).
 *
 * Two servers on 127.0.0.1:0, loaded one after the other by autocannon for --seconds each
 * (default 5) with --connections (default 10), from a worker thread so the load generator
 * does not share the server's event loop:
 *   bosun    - createApiServer with a read-only facade (3 apps x 3 services), key in a header:
 *              auth, the facade's view, the balena mapping, error handling, all included
 *   baseline - a bare fastify route answering the same JSON body, precomputed
 * It prints requests/s, latency p50/p99, the server's event-loop busy time per request, and
 * the bosun/baseline ratios of both. On a small machine the client may saturate first (equal
 * req/s): the busy time per request still shows what bosun's layers cost.
 *
 * Run: npm run build && node dist/scripts/bench/api-state-rps.js [--seconds 5] [--connections 10] [--pipelining 1]
 * Exit code 1 when a run saw errors or non-2xx answers (the numbers would mean nothing).
 */
import { parseArgs } from 'node:util';
import autocannon, { type Result } from 'autocannon';
import Fastify, { type FastifyInstance } from 'fastify';
import { createMetrics } from '../../src/api/metrics.js';
import { createApiServer, listen } from '../../src/api/server.js';
import { applicationsState } from '../../src/api/views.js';
import { silentLogger } from '../../src/util/logger.js';
import { createBenchFacade } from './api-bench-facade.js';

const KEY = 'bench-key-0123456789abcdef0123456789abcdef';

interface Summary {
  label: string;
  rps: number;
  p50: number;
  p99: number;
  busyUsPerRequest: number;
  ok: boolean;
}

interface LoadOptions {
  seconds: number;
  connections: number;
  pipelining: number;
}

async function load(
  label: string,
  url: string,
  { seconds, connections, pipelining }: LoadOptions,
): Promise<Summary> {
  const loopBefore = performance.eventLoopUtilization();
  const result: Result = await autocannon({
    url,
    duration: seconds,
    connections,
    workers: 1,
    pipelining,
    headers: { authorization: `Bearer ${KEY}` },
  });
  const ok = result.errors === 0 && result.non2xx === 0 && result['2xx'] > 0;
  if (!ok) console.error(`${label}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result['2xx']} 2xx`);
  // The server runs on this thread and autocannon in a worker, so this loop's busy time is the
  // server's cost: a per-request figure that holds even when the client is the bottleneck.
  const loop = performance.eventLoopUtilization(loopBefore);
  const busyUsPerRequest = (loop.active * 1000) / Math.max(1, result.requests.total);
  return {
    label,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    busyUsPerRequest,
    ok,
  };
}

async function bosunServer(): Promise<FastifyInstance> {
  return createApiServer({
    facade: createBenchFacade(KEY),
    log: silentLogger(),
    metrics: createMetrics(),
    localMode: false,
    version: 'bench',
  });
}

async function baselineServer(): Promise<FastifyInstance> {
  const body = applicationsState((await createBenchFacade(KEY).view()).apps);
  const app = Fastify();
  app.get('/v2/applications/state', async () => body);
  return app;
}

function line(s: Summary): string {
  return (
    `${s.label.padEnd(9)} ${s.rps.toFixed(0).padStart(7)} req/s   p50 ${s.p50} ms   p99 ${s.p99} ms   ` +
    `server loop ${s.busyUsPerRequest.toFixed(1)} us/request`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      connections: { type: 'string', default: '10' },
      pipelining: { type: 'string', default: '1' },
    },
  });
  const options: LoadOptions = {
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    pipelining: Number(values.pipelining),
  };
  const inRange = (n: number, max: number) => Number.isInteger(n) && n > 0 && n <= max;
  if (
    !inRange(options.seconds, 600) ||
    !inRange(options.connections, 1000) ||
    !inRange(options.pipelining, 100)
  ) {
    console.error('--seconds (1-600), --connections (1-1000) and --pipelining (1-100) take whole numbers');
    process.exit(2);
  }

  const results: Summary[] = [];
  for (const [label, build] of [
    ['bosun', bosunServer],
    ['baseline', baselineServer],
  ] as const) {
    const app = await build();
    try {
      const port = await listen(app, '127.0.0.1', 0);
      results.push(await load(label, `http://127.0.0.1:${port}/v2/applications/state`, options));
    } finally {
      await app.close();
    }
  }

  const [bosun, baseline] = results as [Summary, Summary];
  const { seconds, connections, pipelining } = options;
  console.log(
    `GET /v2/applications/state, ${connections} connections x ${pipelining} pipelined, ${seconds} s each`,
  );
  console.log(line(bosun));
  console.log(line(baseline));
  console.log(`bosun/baseline throughput: ${(bosun.rps / baseline.rps).toFixed(2)}`);
  console.log(
    `bosun/baseline server cost per request: ${(bosun.busyUsPerRequest / baseline.busyUsPerRequest).toFixed(2)}`,
  );
  if (!bosun.ok || !baseline.ok) process.exit(1);
}

await main();
