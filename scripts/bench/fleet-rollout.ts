/**
 * Benchmark 6b: a rollout to a simulated fleet.
 *
 * The fleet backend runs as its own child process (`bosun fleet serve`) on SQLite or PostgreSQL;
 * N real agents over in-memory engines run in a few worker processes (fleet-sim-processes.ts),
 * each polling every --poll-ms. Every device first converges on release 1; then release 2 is
 * pushed (in waves with --rollout), and the clock runs until the rollout has completed (or
 * halted) and each opened wave has settled. Progress is read from the backend's database
 * directly (rollout-watch.ts), so watching costs the backend nothing.
 *
 *   npm run build && node dist/scripts/bench/fleet-rollout.js [--devices 1000] [--poll-ms 5000]
 *     [--workers 2] [--report-ms 1000] [--rollout 1,10%,100%] [--database sqlite|postgres|URL|FILE]
 *     [--fail-percent 5] [--max-failures N|N%] [--probation 2s] [--no-api] [--profile-dir DIR]
 *
 * Prints figures; asserts nothing. Goal: at most two poll intervals a wave (contract section 12:
 * each wave opens once the one before is done). --database postgres makes a scratch database on
 * the stack's cluster (scripts/stack/up.sh) and drops it after. --fail-percent makes release 2
 * fail probation on that share of the devices (sim-failures.ts; never the first device of the
 * rollout order), so the rollout halts once failures pass --max-failures (default 0).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { displayLocation } from '../../src/fleet/database-location.js';
import { FleetClient } from '../../src/fleet/client.js';
import type { SqlDatabase } from '../../src/fleet/sql/database.js';
import { parsePolicyDuration } from '../../src/policy/durations.js';
import {
  splitDevices,
  startBackendProcess,
  startSimWorkers,
  type BackendProcess,
  type SimWorker,
} from './fleet-sim-processes.js';
import type { ParentMessage } from './fleet-sim-worker.js';
import { countReportedDone, openReader, watchRollout, type RolloutTimeline } from './rollout-watch.js';
import { ScratchDatabases } from './scratch-databases.js';
import { parseFailPercent } from './sim-failures.js';

const TOKEN = 'bench-manager-token';
const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(HERE, '../../src/cli.js');
const WORKER = path.resolve(HERE, 'fleet-sim-worker.js');
const FAILING_IMAGE = 'sim/app:2';
/** How long after starting a failing release's container exits (well within the probation). */
const FAIL_AFTER_MS = 500;

interface BenchOptions {
  devices: number;
  pollMs: number;
  workers: number;
  reportMs: number;
  /** Write V8 CPU profiles of the worker processes during the rollout here. */
  profileDir?: string;
  /** Staged rollout waves for release 2 (`1,10%,100%`); all at once without. */
  rollout?: string;
  /** `sqlite` (a temp file, the default), `postgres` (a scratch database), or a location as given. */
  database: string;
  /** Release 2 fails probation on this share of the devices. */
  failPercent?: number;
  maxFailures?: string;
  /** The agents' probation; default 0 (off), or 2s with --fail-percent (failures need it). */
  probation: string;
  /** Each agent without its local API (--no-api). */
  noApi: boolean;
}

const USAGE =
  'use --devices N --poll-ms MS --workers N --report-ms MS --rollout WAVES --database sqlite|postgres|URL|FILE ' +
  '--fail-percent N --max-failures N|N% --probation DURATION --no-api --profile-dir DIR';

function parseArgs(argv: string[]): BenchOptions {
  const options: BenchOptions = {
    devices: 1000,
    pollMs: 5000,
    workers: 2,
    reportMs: 1000,
    database: 'sqlite',
    probation: '',
    noApi: false,
  };
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i]!;
    if (flag === '--no-api') {
      options.noApi = true;
      continue;
    }
    const text = argv[++i];
    if (text === undefined) throw new Error(`${flag} needs a value (${USAGE})`);
    if (flag === '--profile-dir') options.profileDir = text;
    else if (flag === '--rollout') options.rollout = text;
    else if (flag === '--database') options.database = text;
    else if (flag === '--fail-percent') options.failPercent = parseFailPercent(text);
    else if (flag === '--max-failures') options.maxFailures = text;
    else if (flag === '--probation') options.probation = text;
    else {
      const value = Number(text);
      if (!Number.isInteger(value) || value < 1)
        throw new Error(`${flag} takes a whole number >= 1 (${USAGE})`);
      if (flag === '--devices') options.devices = value;
      else if (flag === '--poll-ms') options.pollMs = value;
      else if (flag === '--workers') options.workers = value;
      else if (flag === '--report-ms') options.reportMs = value;
      else throw new Error(`unknown option ${flag} (${USAGE})`);
    }
  }
  if (options.pollMs < 1000) throw new Error('--poll-ms must be at least 1000 (the agent minimum)');
  options.probation ||= options.failPercent === undefined ? '0' : '2s';
  if (options.failPercent !== undefined && parsePolicyDuration(options.probation) <= FAIL_AFTER_MS) {
    throw new Error(
      `--fail-percent needs a --probation longer than ${FAIL_AFTER_MS} ms (failures show during it)`,
    );
  }
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

async function workersCpu(workers: SimWorker[]): Promise<Array<{ seconds: number; rssBytes: number }>> {
  const answers = await Promise.all(workers.map((w) => w.ask({ type: 'cpu' }, 'cpu')));
  return answers.map((a) => ({ seconds: (a.userUs + a.systemUs) / 1e6, rssBytes: a.rssBytes }));
}

/** Polls `count()` until it reaches `want` or the time runs out; the last count. */
async function waitForCount(want: number, count: () => Promise<number>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let reached = await count();
  while (reached < want && Date.now() < deadline) {
    await sleep(200);
    reached = await count();
  }
  return reached;
}

function compose(image: string): string {
  return `services:\n  main:\n    image: ${image}\n    network_mode: none\n    stop_grace_period: 1s\n`;
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} MB`;
const secs = (ms: number | undefined) =>
  ms === undefined || Number.isNaN(ms) ? 'not reached' : `${(ms / 1000).toFixed(2)} s`;

/** Each wave's time from opening to settling, in seconds and in poll intervals, against the goal. */
function printWaves(timeline: RolloutTimeline, options: BenchOptions, probationMs: number): void {
  const goal = 2 * options.pollMs;
  for (const [w, wave] of timeline.waves.entries()) {
    const opened = timeline.opened[w];
    const settled = timeline.settled[w];
    const head = `  wave ${w + 1}: ${wave.devices} devices, ${wave.done} done, ${wave.failed} failed`;
    if (opened === undefined) {
      console.log(`${head}; never opened`);
      continue;
    }
    if (settled === undefined) {
      console.log(`${head}; opened at ${secs(opened)}, not settled`);
      continue;
    }
    const took = settled - opened;
    // Probation is time the rollout is asked to wait, not latency: the goal is on the rest.
    const judged = took - probationMs;
    const intervals = (ms: number) => `${(ms / options.pollMs).toFixed(2)} poll intervals`;
    const beyond =
      probationMs > 0
        ? `; beyond the ${secs(probationMs)} probation ${secs(judged)} = ${intervals(judged)}`
        : '';
    console.log(
      `${head}; opened at ${secs(opened)}, settled at ${secs(settled)}: ${secs(took)} = ${intervals(took)}` +
        `${beyond}; goal at most 2: ${judged <= goal ? 'met' : 'MISSED'}`,
    );
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const probationMs = parsePolicyDuration(options.probation);
  const ticks = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  const root = mkdtempSync(path.join(tmpdir(), 'bosun-bench-rollout-'));
  const scratch =
    options.database === 'postgres' || options.database === 'sqlite'
      ? new ScratchDatabases(options.database)
      : undefined;
  let workers: SimWorker[] = [];
  let backend: BackendProcess | undefined;
  let reader: SqlDatabase | undefined;
  try {
    const database = scratch ? await scratch.fresh() : options.database;
    backend = await startBackendProcess({ cli: CLI, database, token: TOKEN });
    const backendPid = backend.child.pid!;
    reader = openReader(database);
    const client = new FleetClient({ url: backend.url, token: TOKEN });
    // Its own name each run: a database given by URL may hold fleets of earlier runs.
    const fleet = `bench-${Date.now().toString(36)}`;
    const created = await client.createFleet(fleet);
    const first = await client.pushRelease(fleet, compose('sim/app:1'));
    console.log(
      `fleet rollout: ${options.devices} devices in ${options.workers} worker process(es), poll ${options.pollMs} ms, ` +
        `report throttle ${options.reportMs} ms, probation ${options.probation}, local API ${options.noApi ? 'off' : 'on'}; database ${displayLocation(database)}; ` +
        `backend pid ${backendPid}`,
    );

    const setupStart = Date.now();
    const jobs = splitDevices(options.devices, options.workers).map(({ first: index, count }) => ({
      root: path.join(root, 'devices'),
      url: backend!.url,
      fleet,
      provisioningKey: created.provisioningKey,
      first: index,
      count,
      pollMs: options.pollMs,
      reportMs: options.reportMs,
      pullDelayMs: [50, 200] as [number, number],
      probation: options.probation,
      localApi: !options.noApi,
    }));
    workers = await startSimWorkers(WORKER, jobs, { together: true });
    const startedMs = Date.now() - setupStart;
    const converged = await waitForCount(
      options.devices,
      () => countReportedDone(reader!, fleet, created.appUuid, first.commit),
      10 * options.pollMs + probationMs + 60_000,
    );
    console.log(
      `setup: ${options.devices} agents started and registered in ${secs(startedMs)}` +
        ` (worker RSS ${workers.map((w) => mb(w.rssBytes)).join(', ')}); release 1 done on ${converged} devices` +
        ` ${secs(Date.now() - setupStart)} after the workers started`,
    );
    if (converged < options.devices)
      throw new Error('the fleet did not converge on release 1; no rollout measured');
    if (options.failPercent !== undefined) {
      const fleetUuids = workers.flatMap((w) => w.uuids);
      const release = {
        image: FAILING_IMAGE,
        percent: options.failPercent,
        afterMs: FAIL_AFTER_MS,
        fleet: fleetUuids,
      };
      await Promise.all(workers.map((w) => w.ask({ type: 'fail', release }, 'failing')));
    }

    // Idle baseline: the steady cost of a fleet polling with nothing to do.
    const idleMs = 2 * options.pollMs;
    const idleBackend0 = procCpuSeconds(backendPid, ticks);
    const idleWorkers0 = await workersCpu(workers);
    await sleep(idleMs);
    const idleBackend = procCpuSeconds(backendPid, ticks) - idleBackend0;
    const idleWorkers = (await workersCpu(workers)).reduce(
      (sum, c, i) => sum + c.seconds - idleWorkers0[i]!.seconds,
      0,
    );

    const backend0 = procCpuSeconds(backendPid, ticks);
    const workers0 = await workersCpu(workers);
    if (options.profileDir)
      for (const w of workers) w.child.send({ type: 'profile-start' } satisfies ParentMessage);
    const pushedAt = Date.now();
    const second = await client.pushRelease(fleet, compose(FAILING_IMAGE), {
      ...(options.rollout !== undefined && { waves: options.rollout }),
      ...(options.maxFailures !== undefined && { maxFailures: options.maxFailures }),
    });
    const pushMs = Date.now() - pushedAt;
    const waves = second.rollout.waves.length;
    const timeline = await watchRollout(reader, second.rollout.id, {
      timeoutMs: waves * (10 * options.pollMs + probationMs),
    });
    const wallMs = Date.now() - pushedAt;
    const backendCpu = procCpuSeconds(backendPid, ticks) - backend0;
    const workersNow = await workersCpu(workers);
    const workerCpu = workersNow.reduce((sum, c, i) => sum + c.seconds - workers0[i]!.seconds, 0);
    if (options.profileDir) {
      for (const [i, w] of workers.entries()) {
        const file = path.resolve(options.profileDir, `worker-${i}.cpuprofile`);
        await w.ask({ type: 'profile-stop', file }, 'profiled');
        console.log(`CPU profile of worker pid ${w.child.pid} during the rollout: ${file}`);
      }
    }

    const pct = (cpuSeconds: number, ms: number) =>
      `${((100 * cpuSeconds * 1000) / ms).toFixed(1)}% of a core`;
    console.log(
      `idle (${secs(idleMs)}): backend ${idleBackend.toFixed(2)} CPU s (${pct(idleBackend, idleMs)}), ` +
        `agents ${idleWorkers.toFixed(2)} CPU s (${pct(idleWorkers, idleMs)})`,
    );
    console.log(`push answered in ${pushMs} ms (the backend recomputes every device's target)`);
    console.log(
      `rollout ${second.rollout.waveSpec}, --max-failures ${second.rollout.maxFailures}` +
        `${options.failPercent === undefined ? '' : `, failing on ${options.failPercent}% of the devices`}: ` +
        `${timeline.state}${timeline.reason ? ` (${timeline.reason})` : ''} at ${secs(timeline.endedMs)}`,
    );
    printWaves(timeline, options, probationMs);
    const total = timeline.waves.reduce((sum, w) => sum + w.devices, 0);
    const done = timeline.waves.reduce((sum, w) => sum + w.done, 0);
    const marks =
      timeline.state === 'complete'
        ? `50% at ${secs(timeline.marks['50%'])}, 90% at ${secs(timeline.marks['90%'])}, 100% at ${secs(timeline.marks['100%'])}`
        : `${done} of ${total}`;
    console.log(
      `devices done: ${marks}; by second: ` +
        Array.from(timeline.perSecond, (n, s) => `${s + 1}s:${n ?? '-'}`).join(' '),
    );
    console.log(
      `CPU during the rollout (${secs(wallMs)}): backend ${backendCpu.toFixed(2)} s (${pct(backendCpu, wallMs)}), ` +
        `agents ${workerCpu.toFixed(2)} s; backend RSS ${mb(procRssBytes(backendPid))}, ` +
        `worker RSS ${workersNow.map((c) => mb(c.rssBytes)).join(', ')}`,
    );
  } finally {
    await Promise.allSettled(workers.map((w) => w.stop()));
    await backend?.stop();
    await reader?.close();
    await scratch?.dispose();
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
