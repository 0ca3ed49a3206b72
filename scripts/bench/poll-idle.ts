/**
 * Idle cost of target polling: what a device pays while nothing changes.
 *
 * A local HTTP server answers the target once (with an ETag) and 304 afterwards. A CHILD process
 * polls it every --interval-ms (default 1000) for --seconds (default 60), so its CPU time and RSS
 * are its own; it reports them over IPC. The children run one after the other:
 *   poller   - a TargetPoller (got, store, scheduling, jitter): the polling part of the agent
 *   agent    - `bosun agent` from the plain build (dist/src/cli.js, tsc output), in managed mode
 *              with an empty target: engine client, reconcile loop, lock watcher, local API,
 *              metrics, reporter; needs the Docker engine (bash scripts/stack/up.sh)
 *   bundle   - the same `bosun agent` from the bundle (dist/bundle/bosun.js, what the bin runs)
 *   board    - the bundle as on a board with 512 MB of memory: the child runs in a memory cgroup
 *              of that size, from which node sizes V8's heap as it would on the board (needs
 *              root; memory-cgroup.ts). The board the issue had in mind, without node flags.
 *   unit     - the bundle with the node flags of examples/bosun.service's ExecStart (how the
 *              systemd unit we ship runs it)
 *   floor    - the libraries the agent is built on doing the least an idle agent does, none of
 *              bosun's own code (library-floor.ts, bundled like the bin): what no change to
 *              bosun's code can go under
 *   baseline - bare `fetch` with If-None-Match and no bosun code
 * Both agents run the CLI's own main(), as a device does, and are stopped with SIGTERM.
 *
 * Figures: peak RSS (the kernel's high-water mark and 4 samples a second), steady RSS (median of
 * the samples in the second half of the run), private RSS (anonymous memory at the end: RSS less
 * the node binary's shared pages), start-up CPU (loading and setting up; for the agents, until
 * the server has seen their first poll) and idle CPU (from then to the end, and over the second
 * half alone).
 * Goals, printed and never asserted: every poll after the first is a 304; peak idle RSS <= 60 MB;
 * start-up CPU < 0.5 s; idle CPU < 0.5% of a core.
 *
 * Run: npm run build && node dist/scripts/bench/poll-idle.js [--seconds 60] [--interval-ms 1000]
 *   [--modes poller,agent,bundle,board,unit,floor,baseline]
 */
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { createMemoryCgroup, forkInCgroup, type MemoryCgroup } from './memory-cgroup.js';
import { UNIT_FILE, unitNodeFlags } from './unit-file.js';

const UUID = 'bench0000000000000000000000000001';
const ETAG = '"bench-v1"';
const TARGET = JSON.stringify({ [UUID]: { name: 'bench', config: {}, apps: {} } });
const RSS_GOAL_MB = 60;
/** The board of the `board` mode: 512 MB, the single-board computer issue #15 had in mind. */
const BOARD_BYTES = 512 * 1024 * 1024;
const STARTUP_CPU_GOAL_S = 0.5;
const CPU_GOAL_PERCENT = 0.5;

const MODES = ['poller', 'agent', 'bundle', 'board', 'unit', 'floor', 'baseline'] as const;
type Mode = (typeof MODES)[number];

/** The CLI each agent child runs, relative to this file in dist/scripts/bench. */
const CLI_OF: Partial<Record<Mode, string>> = {
  agent: '../../src/cli.js',
  bundle: '../../bundle/bosun.js',
  board: '../../bundle/bosun.js',
  unit: '../../bundle/bosun.js',
};

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const DOCKER_SOCKET = '/var/run/docker.sock';

/** Bundles library-floor.js the way the bin is bundled; returns the bundled file. */
async function bundleLibraryFloor(outdir: string): Promise<string> {
  const { build } = await import('esbuild');
  const { bundleOptions } = await import('../build/bundle-options.js');
  const outfile = path.join(outdir, 'library-floor.js');
  await build({ ...bundleOptions(ROOT), entryPoints: [path.join(HERE, 'library-floor.js')], outfile });
  return outfile;
}

interface ChildReport {
  mode: Mode;
  wallSeconds: number;
  /** User + system CPU while polling (start-up excluded), seconds. */
  cpuSeconds: number;
  /** CPU spent loading modules and setting up, seconds. */
  startupCpuSeconds: number;
  peakRssMb: number;
  /** Median RSS over the second half of the run. */
  steadyRssMb: number;
  /** Anonymous memory at the end of the run (Linux): RSS less the shared, file-backed pages. */
  privateRssMb: number;
  /** CPU over the second half of the run, % of one core. */
  secondHalfCpuPercent: number;
  /** RSS before any poller code was loaded: the floor of a Node process with this script. */
  startRssMb: number;
  /** V8's heap limit, which node sized from the machine's memory or the cgroup's cap. */
  heapLimitMb: number;
  polls: number;
}

interface ServerCounts {
  /** Target polls (GET). */
  requests: number;
  notModified: number;
  /** Everything the client received, report answers included. */
  bytesSent: number;
  /** State reports (PATCH). */
  reports: number;
}

// ---------------------------------------------------------------- child side

async function runChild(
  mode: Mode,
  url: string,
  seconds: number,
  intervalMs: number,
  floorModule: string,
): Promise<void> {
  const startRss = process.memoryUsage.rss();
  const setupStart = process.cpuUsage();
  let polls = 0;
  let stop: () => Promise<void>;
  let dir: string | undefined;

  if (mode === 'poller') {
    // Imported only here, so the baseline child never loads bosun or got.
    const { TargetPoller } = await import('../../src/cloud/target-poller.js');
    const { JsonStore } = await import('../../src/store/json-store.js');
    const { silentLogger } = await import('../../src/util/logger.js');
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-bench-'));
    const poller = new TargetPoller({
      endpoint: url,
      uuid: UUID,
      getDeviceKey: () => 'bench-device-key',
      store: new JsonStore(dir),
      log: silentLogger(),
      onTarget: async () => ({ accepted: true }),
      onRejected: () => undefined,
      intervalMs: () => intervalMs,
      instantUpdates: () => false,
      userAgent: 'bosun/bench',
      onPollResult: () => {
        polls += 1;
      },
    });
    poller.start();
    stop = () => poller.stop();
  } else if (mode === 'floor') {
    const { startLibraryFloor } = (await import(
      pathToFileURL(floorModule).href
    )) as typeof import('./library-floor.js');
    stop = await startLibraryFloor({
      url,
      uuid: UUID,
      intervalMs,
      dockerSocket: DOCKER_SOCKET,
      onPoll: () => {
        polls += 1;
      },
    });
  } else if (CLI_OF[mode]) {
    dir = await mkdtemp(path.join(tmpdir(), 'bosun-bench-'));
    Object.assign(process.env, {
      BOSUN_API_ENDPOINT: url,
      BOSUN_UUID: UUID,
      BOSUN_DEVICE_API_KEY: 'bench-device-key',
      BOSUN_POLL_INTERVAL_MS: String(intervalMs),
      BOSUN_DATA_DIR: path.join(dir, 'data'),
      BOSUN_LOCK_DIR: path.join(dir, 'locks'),
      BOSUN_LISTEN_PORT: '0',
      BOSUN_LOG_LEVEL: 'silent',
    });
    // The parent says when its server has seen the first poll: the agent is up.
    const firstPoll = new Promise((resolve) => process.once('message', resolve));
    const cli = new URL(CLI_OF[mode]!, import.meta.url);
    const { main } = (await import(cli.href)) as { main(argv: string[]): Promise<number> };
    const exited = main([process.execPath, 'bosun', 'agent']);
    await Promise.race([
      firstPoll,
      exited.then((code) => {
        throw new Error(`bosun agent (${mode}) exited with ${code} before its first poll`);
      }),
    ]);
    stop = async () => {
      process.kill(process.pid, 'SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`bosun agent (${mode}) exited with ${code} on SIGTERM`);
    };
  } else {
    let etag: string | undefined;
    const timer = setInterval(() => {
      const headers: Record<string, string> = { authorization: 'Bearer bench-device-key' };
      if (etag) headers['if-none-match'] = etag;
      fetch(`${url}/device/v3/${UUID}/state`, { headers })
        .then(async (res) => {
          await res.arrayBuffer();
          if (res.status === 200) etag = res.headers.get('etag') ?? undefined;
          polls += 1;
        })
        .catch((err: unknown) => process.stderr.write(`baseline poll failed: ${String(err)}\n`));
    }, intervalMs);
    stop = async () => clearInterval(timer);
  }

  const startup = process.cpuUsage(setupStart);
  const runStart = process.cpuUsage();
  const wallStart = performance.now();
  let peakRss = process.memoryUsage.rss();
  const samples: Array<{ at: number; rss: number }> = [];
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    peakRss = Math.max(peakRss, rss);
    samples.push({ at: performance.now() - wallStart, rss });
  }, 250);

  // The second half alone: idle CPU once start-up's tail (lazy compilation, the first full GCs) is over.
  const half = await new Promise<{ cpu: NodeJS.CpuUsage; at: number }>((resolve) =>
    setTimeout(() => resolve({ cpu: process.cpuUsage(), at: performance.now() }), seconds * 500),
  );
  await new Promise((resolve) => setTimeout(resolve, seconds * 500));
  const cpu = process.cpuUsage(runStart);
  const secondHalfCpu = process.cpuUsage(half.cpu);
  const secondHalfWall = (performance.now() - half.at) / 1000;
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const privateRss = privateRssBytes();
  clearInterval(sampler);
  await stop();
  if (dir) await rm(dir, { recursive: true, force: true });

  // resourceUsage().maxRSS is the kernel's peak (KiB): it catches spikes between samples.
  const kernelPeak = process.resourceUsage().maxRSS * 1024;
  const report: ChildReport = {
    mode,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    secondHalfCpuPercent: (100 * (secondHalfCpu.user + secondHalfCpu.system)) / 1e6 / secondHalfWall,
    startupCpuSeconds: (startup.user + startup.system) / 1e6,
    peakRssMb: Math.max(peakRss, kernelPeak) / (1024 * 1024),
    steadyRssMb:
      median(samples.filter((s) => s.at >= (wallSeconds * 1000) / 2).map((s) => s.rss)) / (1024 * 1024),
    privateRssMb: privateRss / (1024 * 1024),
    startRssMb: startRss / (1024 * 1024),
    heapLimitMb: getHeapStatistics().heap_size_limit / (1024 * 1024),
    polls,
  };
  process.send?.(report);
}

/**
 * Anonymous (private) memory from /proc/self/smaps_rollup: RSS without the pages of the node
 * binary and libraries, which are file-backed, shared by every node process and evictable.
 */
function privateRssBytes(): number {
  try {
    const match = /^Anonymous:\s+(\d+) kB/m.exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
    return match ? Number(match[1]) * 1024 : NaN;
  } catch {
    return NaN; // not Linux
  }
}

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// ---------------------------------------------------------------- parent side

async function startServer(
  onFirstPoll: () => void,
): Promise<{ server: Server; url: string; counts: ServerCounts; reset(): void }> {
  const counts: ServerCounts = { requests: 0, notModified: 0, bytesSent: 0, reports: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    if (req.method === 'PATCH') {
      // The whole agent also reports its state; counted apart from the polls.
      counts.reports += 1;
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
      return;
    }
    counts.requests += 1;
    if (counts.requests === 1) onFirstPoll();
    if (req.headers['if-none-match'] === ETAG) {
      counts.notModified += 1;
      res.writeHead(304, { etag: ETAG });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', etag: ETAG });
    res.end(TARGET);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    // Counted on close, and for open sockets at the end: every byte the client received.
    socket.on('close', () => {
      counts.bytesSent += socket.bytesWritten;
      sockets.delete(socket);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    counts,
    reset() {
      counts.requests = 0;
      counts.notModified = 0;
      counts.bytesSent = 0;
      counts.reports = 0;
    },
  };
}

async function measure(
  mode: Mode,
  seconds: number,
  intervalMs: number,
  floorModule: string,
): Promise<{ child: ChildReport; server: ServerCounts }> {
  const board =
    mode === 'board' ? await createMemoryCgroup(`bosun-poll-idle-${process.pid}`, BOARD_BYTES) : undefined;
  try {
    return await measureChild(mode, seconds, intervalMs, floorModule, board);
  } finally {
    await board?.remove();
  }
}

async function measureChild(
  mode: Mode,
  seconds: number,
  intervalMs: number,
  floorModule: string,
  board: MemoryCgroup | undefined,
): Promise<{ child: ChildReport; server: ServerCounts }> {
  let onFirstPoll = () => {};
  const srv = await startServer(() => onFirstPoll());
  const self = fileURLToPath(import.meta.url);
  const child = fork(
    self,
    [
      ...[
        '--child',
        mode,
        '--url',
        srv.url,
        '--seconds',
        String(seconds),
        '--interval-ms',
        String(intervalMs),
      ],
      ...['--floor-module', floorModule],
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(board ? forkInCgroup(board, []) : { execArgv: mode === 'unit' ? unitNodeFlags() : [] }),
    },
  );
  onFirstPoll = () => child.send({ firstPoll: true });
  const report = await new Promise<ChildReport>((resolve, reject) => {
    child.once('message', (msg) => resolve(msg as ChildReport));
    child.once('exit', (code) => reject(new Error(`${mode} child exited (code ${code}) without a report`)));
  });
  await new Promise((resolve) => child.once('exit', resolve));
  srv.server.closeAllConnections();
  await new Promise((resolve) => srv.server.close(resolve));
  return { child: report, server: { ...srv.counts } };
}

function line(label: string, ...cells: string[]): string {
  return `${label.padEnd(26)}${cells.map((c) => c.padStart(12)).join('')}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      'interval-ms': { type: 'string', default: '1000' },
      modes: { type: 'string', default: MODES.join(',') },
      child: { type: 'string' },
      url: { type: 'string' },
      'floor-module': { type: 'string', default: '' },
    },
  });
  const seconds = Number(values.seconds);
  const intervalMs = Number(values['interval-ms']);
  const modes = values.modes.split(',').filter(Boolean) as Mode[];
  if (!(seconds > 0) || !(intervalMs >= 10) || modes.some((m) => !MODES.includes(m))) {
    process.stderr.write(
      `poll-idle: --seconds must be > 0, --interval-ms >= 10, --modes a list of ${MODES.join(',')}\n`,
    );
    return 2;
  }
  if (values.child) {
    await runChild(values.child as Mode, values.url ?? '', seconds, intervalMs, values['floor-module']);
    // An agent child may keep handles (its logger's stream) open after stopping: the report is sent.
    process.exit(0);
  }

  process.stdout.write(`poll-idle: ${seconds} s per child, polling every ${intervalMs} ms\n`);
  if (modes.includes('unit'))
    process.stdout.write(`unit: node ${unitNodeFlags().join(' ')} (${UNIT_FILE})\n`);
  const floorDir = await mkdtemp(path.join(tmpdir(), 'bosun-bench-floor-'));
  const runs: Array<{ mode: Mode; child: ChildReport; server: ServerCounts }> = [];
  try {
    const floorModule = modes.includes('floor') ? await bundleLibraryFloor(floorDir) : '';
    for (const mode of modes) runs.push({ mode, ...(await measure(mode, seconds, intervalMs, floorModule)) });
  } finally {
    await rm(floorDir, { recursive: true, force: true });
  }
  const base = runs.find((r) => r.mode === 'baseline');
  const floor = runs.find((r) => r.mode === 'floor');

  const cpuPct = (r: ChildReport) => (100 * r.cpuSeconds) / r.wallSeconds;
  const row = (label: string, figure: (r: { child: ChildReport; server: ServerCounts }) => string) =>
    line(label, ...runs.map(figure));
  const out = [
    line('', ...runs.map((r) => r.mode)),
    row('polls', (r) => String(r.server.requests)),
    row('304 answers', (r) => String(r.server.notModified)),
    row('state reports', (r) => String(r.server.reports)),
    row('bytes received', (r) => String(r.server.bytesSent)),
    row('start-up CPU (s)', (r) => r.child.startupCpuSeconds.toFixed(3)),
    row('idle CPU (s)', (r) => r.child.cpuSeconds.toFixed(3)),
    row('idle CPU % of one core', (r) => cpuPct(r.child).toFixed(3)),
    row('  in the second half', (r) => r.child.secondHalfCpuPercent.toFixed(3)),
    row('V8 heap limit (MB)', (r) => r.child.heapLimitMb.toFixed(0)),
    row('RSS before start (MB)', (r) => r.child.startRssMb.toFixed(1)),
    row('peak RSS (MB)', (r) => r.child.peakRssMb.toFixed(1)),
    row('steady RSS (MB)', (r) => r.child.steadyRssMb.toFixed(1)),
    row('private RSS at end (MB)', (r) => r.child.privateRssMb.toFixed(1)),
    ...(base
      ? [row('peak RSS / baseline', (r) => (r.child.peakRssMb / base.child.peakRssMb).toFixed(2))]
      : []),
    ...(floor
      ? [row('peak RSS over floor (MB)', (r) => (r.child.peakRssMb - floor.child.peakRssMb).toFixed(1))]
      : []),
  ];
  process.stdout.write(`${out.join('\n')}\n\n`);

  const goals: Array<[string, boolean]> = [];
  for (const { mode, server, child } of runs) {
    // The floor and the baseline are references, not agents.
    if (mode === 'baseline' || mode === 'floor') continue;
    goals.push(
      [
        `${mode}: every poll after the first is a 304 (${server.notModified} of ${server.requests - 1})`,
        server.requests > 1 && server.notModified === server.requests - 1,
      ],
      [
        `${mode}: peak RSS <= ${RSS_GOAL_MB} MB (${child.peakRssMb.toFixed(1)})`,
        child.peakRssMb <= RSS_GOAL_MB,
      ],
      [
        `${mode}: start-up CPU < ${STARTUP_CPU_GOAL_S} s (${child.startupCpuSeconds.toFixed(3)})`,
        child.startupCpuSeconds < STARTUP_CPU_GOAL_S,
      ],
      [
        `${mode}: idle CPU < ${CPU_GOAL_PERCENT}% of a core (${cpuPct(child).toFixed(3)}%)`,
        cpuPct(child) < CPU_GOAL_PERCENT,
      ],
    );
  }
  // Figures, not assertions: a missed goal is printed as MISSED and the run still exits 0.
  for (const [goal, met] of goals) process.stdout.write(`${met ? 'met   ' : 'MISSED'}  ${goal}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`poll-idle: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
