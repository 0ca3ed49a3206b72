/**
 * Idle cost of target polling: what a device pays while nothing changes.
 *
 * A local HTTP server answers the target once (with an ETag) and 304 afterwards. A CHILD process
 * polls it every --interval-ms (default 1000) for --seconds (default 60), so its CPU time and RSS
 * are its own; it reports them over IPC. Two children run one after the other:
 *   bosun    - a TargetPoller (got, store, scheduling, jitter)
 *   baseline - bare `fetch` with If-None-Match and no bosun code
 * Goals for bosun: every poll after the first is a 304; peak RSS <= 60 MB; CPU < 1% of a core.
 *
 * Run: npm run build && node dist/scripts/bench/poll-idle.js [--seconds 60] [--interval-ms 1000]
 * Exit code 1 when a goal is missed.
 */
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const UUID = 'bench0000000000000000000000000001';
const ETAG = '"bench-v1"';
const TARGET = JSON.stringify({ [UUID]: { name: 'bench', config: {}, apps: {} } });
const RSS_GOAL_MB = 60;
const CPU_GOAL_PERCENT = 1;

type Mode = 'bosun' | 'baseline';

interface ChildReport {
  mode: Mode;
  wallSeconds: number;
  /** User + system CPU while polling (start-up excluded), seconds. */
  cpuSeconds: number;
  /** CPU spent loading modules and setting up, seconds. */
  startupCpuSeconds: number;
  peakRssMb: number;
  /** RSS before any poller code was loaded: the floor of a Node process with this script. */
  startRssMb: number;
  polls: number;
}

interface ServerCounts {
  requests: number;
  notModified: number;
  bytesSent: number;
}

// ---------------------------------------------------------------- child side

async function runChild(mode: Mode, url: string, seconds: number, intervalMs: number): Promise<void> {
  const startRss = process.memoryUsage.rss();
  const setupStart = process.cpuUsage();
  let polls = 0;
  let stop: () => Promise<void>;
  let dir: string | undefined;

  if (mode === 'bosun') {
    // Imported only here, so the baseline child never loads bosun or got.
    const { TargetPoller } = await import('../../src/cloud/poll.js');
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
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 250);

  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(runStart);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  clearInterval(sampler);
  await stop();
  if (dir) await rm(dir, { recursive: true, force: true });

  // resourceUsage().maxRSS is the kernel's peak (KiB): it catches spikes between samples.
  const kernelPeak = process.resourceUsage().maxRSS * 1024;
  const report: ChildReport = {
    mode,
    wallSeconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    startupCpuSeconds: (startup.user + startup.system) / 1e6,
    peakRssMb: Math.max(peakRss, kernelPeak) / (1024 * 1024),
    startRssMb: startRss / (1024 * 1024),
    polls,
  };
  process.send?.(report);
}

// ---------------------------------------------------------------- parent side

async function startServer(): Promise<{ server: Server; url: string; counts: ServerCounts; reset(): void }> {
  const counts: ServerCounts = { requests: 0, notModified: 0, bytesSent: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    counts.requests += 1;
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
    },
  };
}

async function measure(
  mode: Mode,
  seconds: number,
  intervalMs: number,
): Promise<{ child: ChildReport; server: ServerCounts }> {
  const srv = await startServer();
  const self = fileURLToPath(import.meta.url);
  const child = fork(
    self,
    ['--child', mode, '--url', srv.url, '--seconds', String(seconds), '--interval-ms', String(intervalMs)],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const report = await new Promise<ChildReport>((resolve, reject) => {
    child.once('message', (msg) => resolve(msg as ChildReport));
    child.once('exit', (code) => reject(new Error(`${mode} child exited (code ${code}) without a report`)));
  });
  await new Promise((resolve) => child.once('exit', resolve));
  srv.server.closeAllConnections();
  await new Promise((resolve) => srv.server.close(resolve));
  return { child: report, server: { ...srv.counts } };
}

function line(label: string, bosun: string, baseline: string, ratio = ''): string {
  return `${label.padEnd(26)}${bosun.padStart(14)}${baseline.padStart(14)}${ratio.padStart(10)}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      'interval-ms': { type: 'string', default: '1000' },
      child: { type: 'string' },
      url: { type: 'string' },
    },
  });
  const seconds = Number(values.seconds);
  const intervalMs = Number(values['interval-ms']);
  if (!(seconds > 0) || !(intervalMs >= 10)) {
    process.stderr.write('poll-idle: --seconds must be > 0 and --interval-ms >= 10\n');
    return 2;
  }
  if (values.child) {
    await runChild(values.child as Mode, values.url ?? '', seconds, intervalMs);
    return 0;
  }

  process.stdout.write(`poll-idle: ${seconds} s per child, polling every ${intervalMs} ms\n`);
  const bosun = await measure('bosun', seconds, intervalMs);
  const base = await measure('baseline', seconds, intervalMs);

  const cpuPct = (r: ChildReport) => (100 * r.cpuSeconds) / r.wallSeconds;
  const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');
  const out = [
    line('', 'bosun', 'baseline', 'ratio'),
    line('requests', String(bosun.server.requests), String(base.server.requests)),
    line('304 answers', String(bosun.server.notModified), String(base.server.notModified)),
    line(
      'bytes received',
      String(bosun.server.bytesSent),
      String(base.server.bytesSent),
      ratio(bosun.server.bytesSent, base.server.bytesSent),
    ),
    line(
      'bytes per request',
      (bosun.server.bytesSent / Math.max(1, bosun.server.requests)).toFixed(0),
      (base.server.bytesSent / Math.max(1, base.server.requests)).toFixed(0),
    ),
    line(
      'CPU while polling (s)',
      bosun.child.cpuSeconds.toFixed(3),
      base.child.cpuSeconds.toFixed(3),
      ratio(bosun.child.cpuSeconds, base.child.cpuSeconds),
    ),
    line('CPU % of one core', cpuPct(bosun.child).toFixed(3), cpuPct(base.child).toFixed(3)),
    line(
      'start-up CPU (s)',
      bosun.child.startupCpuSeconds.toFixed(3),
      base.child.startupCpuSeconds.toFixed(3),
    ),
    line('RSS before poller (MB)', bosun.child.startRssMb.toFixed(1), base.child.startRssMb.toFixed(1)),
    line(
      'peak RSS (MB)',
      bosun.child.peakRssMb.toFixed(1),
      base.child.peakRssMb.toFixed(1),
      ratio(bosun.child.peakRssMb, base.child.peakRssMb),
    ),
  ];
  process.stdout.write(`${out.join('\n')}\n\n`);

  const goals: Array<[string, boolean]> = [
    [
      `every poll after the first is a 304 (${bosun.server.notModified} of ${bosun.server.requests - 1})`,
      bosun.server.requests > 1 && bosun.server.notModified === bosun.server.requests - 1,
    ],
    [
      `peak RSS <= ${RSS_GOAL_MB} MB (${bosun.child.peakRssMb.toFixed(1)})`,
      bosun.child.peakRssMb <= RSS_GOAL_MB,
    ],
    [
      `CPU < ${CPU_GOAL_PERCENT}% of a core (${cpuPct(bosun.child).toFixed(3)}%)`,
      cpuPct(bosun.child) < CPU_GOAL_PERCENT,
    ],
  ];
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
