/**
 * A child process that runs a share of a simulated fleet's devices: real agents over in-memory
 * engines (sim-device.ts). Started with `fork()` by fleet-sim-processes.ts (for the rollout
 * benchmark, fleet-rollout.ts, and the 1,000-device rollout test); takes its job from the
 * BOSUN_SIM_WORKER environment variable (JSON, see WorkerJob) and talks over the IPC channel
 * (WorkerMessage, ParentMessage). Each request gets one answer of the type named beside it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { silentLogger } from '../../src/util/logger.js';
import { crashOnFailingDevices, type FailingRelease } from './sim-failures.js';
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
  /** The agents' probation (contract section 10 syntax); `0` turns probation and rollback off. */
  probation: string;
  /** Each agent runs its local API (AgentOptions.localApi); off, a thousand start in about half the time. */
  localApi: boolean;
}

/** What one device holds of an image, and its containers: what a test asserts on. */
export interface DeviceSnapshot {
  uuid: string;
  /** Pulls of the image the agent asked its engine for. */
  pulls: number;
  hasImage: boolean;
  containers: Array<{ releaseUuid: string; image: string; status: string; exitCode?: number }>;
}

export type WorkerMessage =
  | { type: 'ready'; uuids: string[]; startMs: number; rssBytes: number }
  | { type: 'error'; message: string }
  | { type: 'cpu'; userUs: number; systemUs: number; rssBytes: number }
  | { type: 'profiled'; file: string }
  | { type: 'failing' }
  | { type: 'inspected'; devices: DeviceSnapshot[] };

export type ParentMessage =
  /** Answered by `cpu`. */
  | { type: 'cpu' }
  /** Stops every agent, then the process exits. */
  | { type: 'stop' }
  /** Start a V8 CPU profile now; `profile-stop` writes it to `file` and is answered by `profiled`. */
  | { type: 'profile-start' }
  | { type: 'profile-stop'; file: string }
  /** From now on the release fails probation on its share of the fleet (sim-failures.ts); answered by `failing`. */
  | { type: 'fail'; release: FailingRelease }
  /** Every device's snapshot for `image`; answered by `inspected`. */
  | { type: 'inspect'; image: string };

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function snapshot(device: SimDevice, image: string): Promise<DeviceSnapshot> {
  const containers = await device.engine.listContainers(device.uuid);
  return {
    uuid: device.uuid,
    pulls: device.engine.pullCount(image),
    hasImage: await device.engine.hasImage(image),
    containers: containers.map((c) => ({
      releaseUuid: c.releaseUuid,
      image: c.image,
      status: c.status,
      ...(c.exitCode !== undefined && { exitCode: c.exitCode }),
    })),
  };
}

async function main(): Promise<void> {
  const raw = process.env.BOSUN_SIM_WORKER;
  if (!raw || !process.send)
    throw new Error('fleet-sim-worker runs only as a forked child (fleet-sim-processes.ts)');
  const job = JSON.parse(raw) as WorkerJob;
  const log = silentLogger();
  const started = Date.now();
  const [minPull, maxPull] = job.pullDelayMs;
  // Set by a `fail` message once the parent knows the whole fleet; every device's engine asks it.
  let crash: ReturnType<typeof crashOnFailingDevices> | undefined;
  const devices: SimDevice[] = await startSimDevices(job.count, 50, (offset) => ({
    root: job.root,
    index: job.first + offset,
    apiEndpoint: job.url,
    fleet: job.fleet,
    provisioningKey: job.provisioningKey,
    pullDelayMs: minPull + Math.round(Math.random() * (maxPull - minPull)),
    pollIntervalMs: job.pollMs,
    reportIntervalMs: job.reportMs,
    exitAfterStart: (container) => crash?.(container),
    // No lock watchers (a thousand fs.watch handles): the fallback poll finds released locks.
    config: { lockWatch: false, updateProbation: job.probation },
    agent: {
      log,
      localApi: job.localApi,
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
    } else if (message.type === 'fail') {
      crash = crashOnFailingDevices(message.release);
      send({ type: 'failing' });
    } else if (message.type === 'inspect') {
      Promise.all(devices.map((d) => snapshot(d, message.image))).then(
        (snapshots) => send({ type: 'inspected', devices: snapshots }),
        (err: unknown) => send({ type: 'error', message: `inspect failed: ${String(err)}` }),
      );
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
