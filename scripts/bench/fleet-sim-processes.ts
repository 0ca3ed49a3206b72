/**
 * The processes of a simulated fleet at scale: the fleet backend as its own `bosun fleet serve`
 * process, and the devices (real agents over in-memory engines) in a few worker processes
 * (fleet-sim-worker.ts), so neither competes with the other, or with the process that drives
 * them, for one event loop. Shared by the rollout benchmark (fleet-rollout.ts) and the
 * 1,000-device rollout test (test/scale/). Both run compiled code: the caller names the files.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ParentMessage, WorkerJob, WorkerMessage } from './fleet-sim-worker.js';

/** How long a stopping process may take before it is killed. */
const STOP_GRACE_MS = 20_000;

export interface BackendProcess {
  child: ChildProcess;
  url: string;
  /** SIGTERM, then SIGKILL if it has not exited within the grace time. */
  stop(): Promise<void>;
}

export interface BackendProcessOptions {
  /** The bosun CLI to run (`dist/src/cli.js`, or the shipped bundle). */
  cli: string;
  /** A SQLite file or a postgres:// URL (`--database`). */
  database: string;
  token: string;
  /** The backend's log level; default warn (its output goes to this process's stderr). */
  logLevel?: string;
}

/** Starts `bosun fleet serve` on 127.0.0.1 and a free port; resolves once it listens. */
export async function startBackendProcess(options: BackendProcessOptions): Promise<BackendProcess> {
  const child = spawn(
    process.execPath,
    [
      options.cli,
      'fleet',
      'serve',
      '--port',
      '0',
      '--address',
      '127.0.0.1',
      '--database',
      options.database,
      '--token',
      options.token,
    ],
    {
      env: { ...process.env, BOSUN_LOG_LEVEL: options.logLevel ?? 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (!match) return;
      child.stdout!.off('data', onData);
      // Keep draining what it writes later, so a full pipe never blocks it.
      child.stdout!.resume();
      resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`fleet backend exited (${code ?? signal}) before listening: ${output}`)),
    );
  });
  return { child, url, stop: () => stopProcess(child, () => child.kill('SIGTERM')) };
}

/** Asks a process to stop; waits for it to exit, killing it after the grace time. */
async function stopProcess(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  ask();
  const timer = new AbortController();
  const late = sleep(STOP_GRACE_MS, 'late', { signal: timer.signal }).catch(() => 'cancelled');
  const first = await Promise.race([exited, late]);
  timer.abort();
  if (first === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
}

type Reply<T extends WorkerMessage['type']> = Extract<WorkerMessage, { type: T }>;

/** One worker process and the devices it runs. */
export class SimWorker {
  private constructor(
    readonly child: ChildProcess,
    /** Its devices' uuids, in index order. */
    readonly uuids: string[],
    /** How long its devices took to start and register. */
    readonly startMs: number,
    readonly rssBytes: number,
  ) {}

  /** Forks `file` (the compiled fleet-sim-worker.js) for `job`; resolves once every device has registered. */
  static start(file: string, job: WorkerJob): Promise<SimWorker> {
    const child = fork(file, [], {
      env: { ...process.env, BOSUN_SIM_WORKER: JSON.stringify(job) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      child.once('message', (message: WorkerMessage) => {
        if (message.type === 'ready')
          resolve(new SimWorker(child, message.uuids, message.startMs, message.rssBytes));
        else if (message.type === 'error')
          reject(new Error(`simulated fleet worker failed: ${message.message}`));
        else reject(new Error(`simulated fleet worker said ${message.type} before it was ready`));
      });
      child.once('error', reject);
      child.once('exit', (code, signal) =>
        reject(new Error(`simulated fleet worker exited (${code ?? signal}) before it was ready`)),
      );
    });
  }

  /** Sends a request and resolves with the answer of type `reply` (requests are answered in order). */
  ask<T extends WorkerMessage['type']>(message: ParentMessage, reply: T): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      const onMessage = (answer: WorkerMessage) => {
        if (answer.type === 'error') {
          done();
          reject(new Error(`simulated fleet worker failed: ${answer.message}`));
        } else if (answer.type === reply) {
          done();
          resolve(answer as Reply<T>);
        }
      };
      const onExit = (code: number | null, signal: string | null) => {
        done();
        reject(
          new Error(`simulated fleet worker exited (${code ?? signal}) before answering ${message.type}`),
        );
      };
      this.child.on('message', onMessage);
      this.child.once('exit', onExit);
      this.child.send(message);
    });
  }

  /** Stops every agent (they send their last reports) and waits for the process to exit. */
  stop(): Promise<void> {
    return stopProcess(this.child, () => this.child.send({ type: 'stop' } satisfies ParentMessage));
  }
}

/** `devices` split into `workers` runs of consecutive indices, as even as they go. */
export function splitDevices(devices: number, workers: number): Array<{ first: number; count: number }> {
  const per = Math.ceil(devices / workers);
  const runs: Array<{ first: number; count: number }> = [];
  for (let first = 0; first < devices; first += per)
    runs.push({ first, count: Math.min(per, devices - first) });
  return runs;
}

/**
 * Starts a worker for each job, all at once (`together`) or one after the other; if one fails,
 * the ones started are stopped and the first failure is thrown.
 */
export async function startSimWorkers(
  file: string,
  jobs: WorkerJob[],
  { together }: { together: boolean },
): Promise<SimWorker[]> {
  // By job: the workers come back in the jobs' order, whichever was ready first.
  const started: Array<SimWorker | undefined> = new Array(jobs.length);
  const failures: unknown[] = [];
  const startOne = (job: WorkerJob, i: number) =>
    SimWorker.start(file, job).then(
      (worker) => void (started[i] = worker),
      (err: unknown) => void failures.push(err),
    );
  if (together) await Promise.all(jobs.map(startOne));
  else for (const [i, job] of jobs.entries()) if (failures.length === 0) await startOne(job, i);
  const workers = started.filter((w) => w !== undefined);
  if (failures.length > 0) {
    await Promise.allSettled(workers.map((w) => w.stop()));
    throw failures[0];
  }
  return workers;
}
