/**
 * A child process of the rollout benchmark (fleet-rollout.ts) that runs a share of the simulated
 * devices. Started with `fork()`; takes its job from the BOSUN_SIM_WORKER environment variable
 * (JSON, see WorkerJob) and talks over the IPC channel:
 *   worker -> parent: { type: 'ready', uuids, startMs, rssBytes } | { type: 'error', message }
 *                     | { type: 'cpu', userUs, systemUs, rssBytes }
 *   parent -> worker: { type: 'cpu' } | { type: 'stop' } | profile-start / profile-stop (see ParentMessage)
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { silentLogger } from '../../src/util/logger.js';
import { startSimDevices, type SimDevice } from './sim-device.js';

export interface WorkerJob {
  root: string;
  url: string;
  fleet: string;
  provisioningKey: string;
  /** Index of this worker's first device (dirs are named by index). */
  first: number;
  count: number;
  pollMs: number;
  reportMs: number;
  pullDelayMs: [number, number];
  /** Skip the local API server (see AgentOptions.localApi). */
  noApi: boolean;
}

export type WorkerMessage =
  | { type: 'ready'; uuids: string[]; startMs: number; rssBytes: number }
  | { type: 'error'; message: string }
  | { type: 'cpu'; userUs: number; systemUs: number; rssBytes: number }
  | { type: 'profiled'; file: string };

export type ParentMessage =
  | { type: 'cpu' }
  | { type: 'stop' }
  /** Start a V8 CPU profile now; `profile-stop` writes it to `file`. */
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  const raw = process.env.BOSUN_SIM_WORKER;
  if (!raw || !process.send) throw new Error('fleet-sim-worker runs only as a child of fleet-rollout (fork)');
  const job = JSON.parse(raw) as WorkerJob;
  const log = silentLogger();
  const started = Date.now();
  const [minPull, maxPull] = job.pullDelayMs;
  const devices: SimDevice[] = await startSimDevices(job.count, 50, (offset) => ({
    root: job.root,
    index: job.first + offset,
    apiEndpoint: job.url,
    fleet: job.fleet,
    provisioningKey: job.provisioningKey,
    pullDelayMs: minPull + Math.round(Math.random() * (maxPull - minPull)),
    pollIntervalMs: job.pollMs,
    reportIntervalMs: job.reportMs,
    // No lock watchers (a thousand fs.watch handles): the fallback poll finds released locks.
    config: { lockWatch: false },
    agent: {
      log,
      loop: {
        fallbackPollMs: job.pollMs,
        resyncMs: 6 * job.pollMs,
        backoff: { baseMs: 500, capMs: job.pollMs },
      },
    },
    log,
  }));
  send({
    type: 'ready',
    uuids: devices.map((d) => d.uuid),
    startMs: Date.now() - started,
    rssBytes: process.memoryUsage().rss,
  });

  const profiler = new Session();
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'profile-start') {
      profiler.connect();
      void profiler.post('Profiler.enable').then(() => profiler.post('Profiler.start'));
    } else if (message.type === 'profile-stop') {
      void profiler.post('Profiler.stop').then(({ profile }) => {
        writeFileSync(message.file, JSON.stringify(profile));
        profiler.disconnect();
        send({ type: 'profiled', file: message.file });
      });
    } else if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', userUs: usage.user, systemUs: usage.system, rssBytes: process.memoryUsage().rss });
    } else if (message.type === 'stop') {
      void Promise.allSettled(devices.map((d) => d.stop())).then(() => process.exit(0));
    }
  });
  // The parent going away (killed, crashed) must not leave a thousand agents polling.
  process.on('disconnect', () => process.exit(0));
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
