/**
 * Benchmark 6b: a rollout to a simulated fleet.
 *
 * The fleet backend runs as its own child process (`bosun fleet serve`); N real agents over
 * in-memory engines run in a few worker processes (fleet-sim-worker.ts), each polling every
 * --poll-ms. Every device first converges on release 1; then release 2 is pushed, and the clock
 * runs until every device has reported release 2 `done` to the backend. Progress is read from the
 * backend's database file directly (read-only), so watching costs the backend nothing.
 *
 *   npm run build && node dist/scripts/bench/fleet-rollout.js [--devices 1000] [--poll-ms 5000]
 *     [--workers 2] [--report-ms 1000] [--no-api] [--rollout 1,10%,100%]
 *
 * Prints figures; asserts nothing. Goal: every device done within two poll intervals of the push.
 * With --rollout, release 2 goes out in those waves (contract section 12): each wave opens once
 * the one before is done, so the goal is two poll intervals a wave; the waves' timings are printed.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { FleetClient } from '../../src/fleet/client.js';
import type { ParentMessage, WorkerJob, WorkerMessage } from './fleet-sim-worker.js';

const TOKEN = 'bench-manager-token';
const FLEET = 'bench';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../../src/cli.js');
const WORKER = path.resolve(HERE, 'fleet-sim-worker.js');

interface BenchOptions {
  devices: number;
  pollMs: number;
  workers: number;
  reportMs: number;
  noApi: boolean;
  /** Write V8 CPU profiles of the worker processes during the rollout here. */
  profileDir?: string;
  /** Staged rollout waves for release 2 (`1,10%,100%`); all at once without. */
  rollout?: string;
}

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = { devices: 1000, pollMs: 5000, workers: 2, reportMs: 1000, noApi: false };
  const usage =
    'use --devices N --poll-ms MS --workers N --report-ms MS --no-api --profile-dir DIR --rollout WAVES';
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === '--no-api') {
      options.noApi = true;
      continue;
    }
    if (flag === '--profile-dir') {
      options.profileDir = argv[++i];
      continue;
    }
    if (flag === '--rollout') {
      options.rollout = argv[++i];
      continue;
    }
    const value = Number(argv[++i]);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`${flag} takes a whole number >= 1 (${usage})`);
    if (flag === '--devices') options.devices = value;
    else if (flag === '--poll-ms') options.pollMs = value;
    else if (flag === '--workers') options.workers = value;
    else if (flag === '--report-ms') options.reportMs = value;
    else throw new Error(`unknown option ${flag} (${usage})`);
  }
  if (options.pollMs < 1000) throw new Error('--poll-ms must be at least 1000 (the agent minimum)');
  return options;
}

/** CPU seconds (user + system) a process has used, from /proc. */
function procCpuSeconds(pid: number, ticksPerSecond: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

async function startBackend(dbFile: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [CLI, 'fleet', 'serve', '--port', '0', '--address', '127.0.0.1', '--db', dbFile, '--token', TOKEN],
    { env: { ...process.env, BOSUN_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) =>
      reject(new Error(`fleet backend exited (${code}) before listening: ${output}`)),
    );
  });
  return { child, url };
}

interface Worker {
  child: ChildProcess;
  uuids: string[];
  startMs: number;
  rssBytes: number;
}

function startWorker(job: WorkerJob): Promise<Worker> {
  const child = fork(WORKER, [], {
    env: { ...process.env, BOSUN_SIM_WORKER: JSON.stringify(job) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (message: WorkerMessage) => {
      if (message.type === 'ready')
        resolve({ child, uuids: message.uuids, startMs: message.startMs, rssBytes: message.rssBytes });
      else if (message.type === 'error') reject(new Error(`worker failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)));
  });
}

function askCpu(worker: Worker): Promise<{ seconds: number; rssBytes: number }> {
  return new Promise((resolve) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'cpu') return;
      worker.child.off('message', onMessage);
      resolve({ seconds: (message.userUs + message.systemUs) / 1e6, rssBytes: message.rssBytes });
    };
    worker.child.on('message', onMessage);
    worker.child.send({ type: 'cpu' } satisfies ParentMessage);
  });
}

function profile(worker: Worker, file: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type !== 'profiled') return;
      worker.child.off('message', onMessage);
      console.log(`CPU profile of worker pid ${worker.child.pid} during the rollout: ${message.file}`);
      resolve();
    };
    worker.child.on('message', onMessage);
    worker.child.send({ type: 'profile-stop', file } satisfies ParentMessage);
  });
}

async function stopWorker(worker: Worker): Promise<void> {
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  worker.child.send({ type: 'stop' } satisfies ParentMessage);
  const timer = new AbortController();
  await Promise.race([exited, sleep(20_000, undefined, { signal: timer.signal }).catch(() => undefined)]);
  timer.abort();
  if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
}

/** How many devices report `commit` running and `done`, read from the backend's db file. */
function doneCounter(dbFile: string, appUuid: string): (commit: string) => number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  const rows = db.prepare('SELECT report_json FROM devices');
  return (commit) => {
    let done = 0;
    for (const row of rows.all() as Array<{ report_json: string }>) {
      const app = (JSON.parse(row.report_json) as { apps?: Record<string, ReportedApp> }).apps?.[appUuid];
      if (app?.release_uuid === commit && app.releases?.[commit]?.update_status === 'done') done += 1;
    }
    return done;
  };
}

interface ReportedApp {
  release_uuid?: string | null;
  releases?: Record<string, { update_status?: string }>;
}

/**
 * Waits until `count()` reaches `want`; returns ms taken, the times the 50%, 90%, 100% marks fell,
 * and the count at the end of each second.
 */
async function waitForAll(
  want: number,
  count: () => number,
  timeoutMs: number,
): Promise<{ ms: number; marks: Record<string, number>; reached: number; perSecond: number[] }> {
  const start = Date.now();
  const marks: Record<string, number> = {};
  const perSecond: number[] = [];
  let reached = 0;
  while (Date.now() - start < timeoutMs) {
    reached = count();
    perSecond[Math.floor((Date.now() - start) / 1000)] = reached;
    for (const fraction of [0.5, 0.9, 1]) {
      const key = `${fraction * 100}%`;
      if (marks[key] === undefined && reached >= Math.ceil(want * fraction)) marks[key] = Date.now() - start;
    }
    if (reached >= want) return { ms: Date.now() - start, marks, reached, perSecond };
    await sleep(100);
  }
  return { ms: Number.NaN, marks, reached, perSecond };
}

function compose(image: string): string {
  return `services:\n  main:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n`;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const secs = (ms: number) => (Number.isNaN(ms) ? 'not reached' : `${(ms / 1000).toFixed(2)} s`);

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const root = mkdtempSync(path.join(tmpdir(), 'bosun-bench-rollout-'));
  const dbFile = path.join(root, 'fleet.db');
  const workers: Worker[] = [];
  let backend: ChildProcess | undefined;
  try {
    const started = await startBackend(dbFile);
    backend = started.child;
    const client = new FleetClient({ url: started.url, token: TOKEN });
    const created = await client.createFleet(FLEET);
    const first = await client.pushRelease(FLEET, compose('sim/app:1'));
    console.log(
      `fleet rollout: ${options.devices} devices in ${options.workers} worker process(es), poll ${options.pollMs} ms, ` +
        `report throttle ${options.reportMs} ms, local API ${options.noApi ? 'off' : 'on'}; backend pid ${backend.pid}`,
    );

    const setupStart = Date.now();
    const per = Math.ceil(options.devices / options.workers);
    for (let w = 0; w < options.workers; w += 1) {
      const count = Math.min(per, options.devices - w * per);
      if (count <= 0) break;
      // One at a time: two workers starting hundreds of agents each would only slow each other.
      workers.push(
        await startWorker({
          root: path.join(root, 'devices'),
          url: started.url,
          fleet: FLEET,
          provisioningKey: created.provisioningKey,
          first: w * per,
          count,
          pollMs: options.pollMs,
          reportMs: options.reportMs,
          pullDelayMs: [50, 200],
          noApi: options.noApi,
        }),
      );
    }
    const countDone = doneCounter(dbFile, created.appUuid);
    const initial = await waitForAll(
      options.devices,
      () => countDone(first.commit),
      10 * options.pollMs + 60_000,
    );
    console.log(
      `setup: ${options.devices} agents started and registered in ${secs(workers.reduce((sum, w) => sum + w.startMs, 0))}` +
        ` (worker RSS ${workers.map((w) => mb(w.rssBytes)).join(', ')}); release 1 done on ${initial.reached} devices` +
        ` ${secs(Date.now() - setupStart)} after the first agent started`,
    );
    if (initial.reached < options.devices)
      throw new Error('the fleet did not converge on release 1; no rollout measured');

    // Idle baseline: the steady cost of a fleet polling with nothing to do.
    const idleSeconds = 2 * options.pollMs;
    const idleBackend0 = procCpuSeconds(backend.pid!, ticks);
    const idleWorkers0 = await Promise.all(workers.map(askCpu));
    await sleep(idleSeconds);
    const idleBackend = procCpuSeconds(backend.pid!, ticks) - idleBackend0;
    const idleWorkers = (await Promise.all(workers.map(askCpu))).reduce(
      (sum, c, i) => sum + c.seconds - idleWorkers0[i]!.seconds,
      0,
    );

    const backend0 = procCpuSeconds(backend.pid!, ticks);
    const workers0 = await Promise.all(workers.map(askCpu));
    if (options.profileDir)
      for (const w of workers) w.child.send({ type: 'profile-start' } satisfies ParentMessage);
    const pushedAt = Date.now();
    const second = await client.pushRelease(
      FLEET,
      compose('sim/app:2'),
      options.rollout === undefined ? undefined : { waves: options.rollout },
    );
    const pushMs = Date.now() - pushedAt;
    const waves = second.rollout.waves.length;
    // When each wave opened, as the rollout's status shows it (read once a second).
    const opened: number[] = [0];
    const watchWaves = setInterval(() => {
      client.rolloutStatus(FLEET).then(
        (view) => {
          while (opened.length < view.openedWaves) opened.push(Date.now() - pushedAt);
        },
        (err: unknown) => console.log(`rollout status failed: ${String(err)}`),
      );
    }, 1000);
    const rollout = await waitForAll(
      options.devices,
      () => countDone(second.commit),
      10 * options.pollMs * waves,
    ).finally(() => clearInterval(watchWaves));
    const backendCpu = procCpuSeconds(backend.pid!, ticks) - backend0;
    const workersNow = await Promise.all(workers.map(askCpu));
    const workerCpu = workersNow.reduce((sum, c, i) => sum + c.seconds - workers0[i]!.seconds, 0);
    if (options.profileDir)
      await Promise.all(
        workers.map((w, i) => profile(w, path.resolve(options.profileDir!, `worker-${i}.cpuprofile`))),
      );
    const wall = Number.isNaN(rollout.ms) ? 10 * options.pollMs * waves : rollout.ms;
    const goal = 2 * options.pollMs * waves;

    console.log(
      `idle (${secs(idleSeconds)}): backend ${idleBackend.toFixed(2)} CPU s (${((100 * idleBackend * 1000) / idleSeconds).toFixed(1)}% of a core), agents ${idleWorkers.toFixed(2)} CPU s (${((100 * idleWorkers * 1000) / idleSeconds).toFixed(1)}%)`,
    );
    console.log(`push answered in ${pushMs} ms (the backend recomputes every device's target)`);
    if (options.rollout !== undefined) {
      console.log(
        `waves ${options.rollout}: ${second.rollout.waves.map((w) => w.size).join(', ')} devices; opened at ` +
          opened.map((ms, i) => `wave ${i + 1} ${secs(ms)}`).join(', '),
      );
    }
    console.log(
      `rollout: all ${options.devices} done in ${secs(rollout.ms)} (50% ${secs(rollout.marks['50%'] ?? NaN)}, 90% ${secs(rollout.marks['90%'] ?? NaN)}); ` +
        `goal ${secs(goal)}: ${rollout.ms <= goal ? 'met' : 'MISSED'}; reached ${rollout.reached}/${options.devices}`,
    );
    console.log(
      `done by second: ${Array.from(rollout.perSecond, (n, second) => `${second + 1}s:${n ?? '-'}`).join(' ')}`,
    );
    console.log(
      `CPU during the rollout (${secs(wall)}): backend ${backendCpu.toFixed(2)} s (${((100 * backendCpu * 1000) / wall).toFixed(1)}% of a core), ` +
        `agents ${workerCpu.toFixed(2)} s; backend RSS ${mb(procRssBytes(backend.pid!))}, worker RSS ${workersNow.map((c) => mb(c.rssBytes)).join(', ')}`,
    );
  } finally {
    await Promise.all(workers.map(stopWorker));
    if (backend && backend.exitCode === null) {
      const exited = new Promise((resolve) => backend!.once('exit', resolve));
      backend.kill('SIGTERM');
      await exited;
    }
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
