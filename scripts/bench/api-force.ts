/**
 * Force-update latency (issue 6 item 6): how long `POST /v1/update {"force": true}` takes to get an
 * update that waits on a user's update lock going, i.e. to the start of the old container's stop.
 * balena-supervisor queued the force behind the lock wait (balena-supervisor #2541); the loop's
 * trigger({force}) wakes the waiting pass instead (src/reconcile/reconcile-loop.ts).
 *
 * A trial, on the real Docker engine with a real agent (startAgent, local mode): the app's
 * container runs release 1 or 2 (demo:1 / demo:2, alternating, a fresh release uuid each time);
 * the app's lock is taken (exclusive create of the host path, as an app's `set -C` does); the
 * other release is offered with its image already present, so only the lock holds it back; once
 * the loop reports the app `locked`, and after a random pause (so the loop's sleep is sampled at
 * any phase), the clock starts and the update is let go, in one of two ways:
 * - force: a real HTTP `POST /v1/update {"force": true}` to the API on 127.0.0.1;
 * - baseline: the lock file is removed (the lock dir watcher wakes the loop).
 * The clock stops when the engine's stopContainer call for the old container begins. The two
 * kinds alternate on one agent, so both see the same engine and machine load.
 *
 * Prints median and p95 per kind, the ratio force/baseline, and the API's round trip alone
 * (request sent -> 204 received). Asserts nothing. Needs the local stack (scripts/stack/up.sh).
 * Run: npm run build && node dist/scripts/bench/api-force.js [--trials 20] [--budget-s 100]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ContainerInfo } from '../../src/engine/types.js';
import { serviceLockDir } from '../../src/locks/paths.js';
import {
  REGISTRY,
  percentile,
  sleep,
  startBenchAgent,
  stopTimedEngine,
  takeLock,
  until,
  type BenchAgent,
  oneServiceTarget,
} from './bench-agent.js';
import { median } from './reconcile-planner.js';

const IMAGES: Record<1 | 2, string> = { 1: `${REGISTRY}/bosun/demo:1`, 2: `${REGISTRY}/bosun/demo:2` };
const APP_ID = 9961;
const API_KEY = 'api-force-bench';
/** Upper bound of the random pause between `locked` and letting the update go. */
const MAX_PAUSE_MS = 300;

type Kind = 'force' | 'baseline';

interface Samples {
  force: number[];
  baseline: number[];
  /** POST /v1/update sent -> its 204 received. */
  roundTrip: number[];
}

/** A local-mode target: one app, one service, the given release under a fresh release uuid. */
function targetFor(appUuid: string, release: 1 | 2, releaseUuid: string): unknown {
  const name = 'api-force-bench';
  return oneServiceTarget({
    name,
    appUuid,
    appId: APP_ID,
    releaseUuid,
    releaseId: release,
    image: IMAGES[release],
  });
}

/** One agent on the real engine, with the engine's stop calls timestamped. */
class Bench {
  readonly appUuid: string;
  private current: ContainerInfo | undefined;
  private release: 1 | 2 = 1;
  private releaseUuid = '';

  private constructor(
    private readonly bench: BenchAgent,
    readonly lockFile: string,
    /** When the stop of each container began (performance.now()). */
    private readonly stopStarts: Map<string, number>,
  ) {
    this.appUuid = `apiforce${bench.uuid.slice(0, 8)}`;
  }

  private get agent() {
    return this.bench.agent;
  }

  static async start(): Promise<Bench> {
    const { engine, stopStarts } = stopTimedEngine();
    const bench = await startBenchAgent(engine, 'bosun-api-force-bench-', {
      listenAddress: '127.0.0.1',
      apiKey: API_KEY,
    });
    const lockFile = path.join(serviceLockDir(bench.config, APP_ID, 'main'), 'updates.lock');
    return new Bench(bench, lockFile, stopStarts);
  }

  /** Deploys release 1, then 2, without a lock: both images pulled, the API connection warm. */
  async warmUp(): Promise<void> {
    await this.deploy(1);
    await this.deploy(2);
    const ping = await fetch(`http://127.0.0.1:${this.agent.apiPort}/ping`);
    await ping.arrayBuffer();
  }

  /** One trial of `kind`; returns the latency, and the API round trip for a force. */
  async trial(kind: Kind): Promise<{ latencyMs: number; roundTripMs?: number }> {
    const old = this.current!;
    const next: 1 | 2 = this.release === 1 ? 2 : 1;
    // A force lasts until the device converged once: wait for it to end, or the next offer
    // would be applied at once, past the lock.
    await until('the force to end', () => (this.agent.loop.status.forced ? undefined : true));
    // The agent drops its own lock just after the new container runs: retry as an app would.
    await mkdir(path.dirname(this.lockFile), { recursive: true });
    await until('the app taking its lock', () => takeLock(this.lockFile));
    await this.offer(next);
    await until('locked', () =>
      this.agent.loop.status.apps[this.appUuid]?.phase === 'locked' ? true : undefined,
    );
    await sleep(Math.random() * MAX_PAUSE_MS);
    let roundTripMs: number | undefined;
    const letGoAt = performance.now();
    if (kind === 'force') {
      const answer = await fetch(`http://127.0.0.1:${this.agent.apiPort}/v1/update`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ force: true }),
      });
      roundTripMs = performance.now() - letGoAt;
      await answer.arrayBuffer();
      // Not a figure check: a force that was not taken would time nothing but the fallback poll.
      if (answer.status !== 204) throw new Error(`POST /v1/update answered ${answer.status}, not 204`);
    } else {
      await rm(this.lockFile);
    }
    const killedAt = await until('the old container stop', () => this.stopStarts.get(old.id), 10_000);
    await this.running(next);
    return { latencyMs: killedAt - letGoAt, roundTripMs };
  }

  stop(): Promise<void> {
    return this.bench.stop();
  }

  private async deploy(release: 1 | 2): Promise<void> {
    await this.offer(release);
    await this.running(release);
  }

  private async offer(release: 1 | 2): Promise<void> {
    const releaseUuid = randomUUID().replace(/-/g, '');
    await this.bench.offer(targetFor(this.appUuid, release, releaseUuid));
    this.release = release;
    this.releaseUuid = releaseUuid;
  }

  /** Waits until the one container is the offered release and runs. */
  private async running(release: 1 | 2): Promise<void> {
    const releaseUuid = this.releaseUuid;
    this.current = await until(`release ${release} running`, async () => {
      const cs = await this.bench.engine.listContainers(this.bench.uuid);
      const ok = cs.length === 1 && cs[0]!.releaseUuid === releaseUuid && cs[0]!.status === 'running';
      return ok ? cs[0] : undefined;
    });
  }
}

function line(name: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  return (
    `${name.padEnd(38)} median ${fmt(median(values)).padStart(9)}  p95 ${fmt(percentile(sorted, 0.95)).padStart(9)}` +
    `  min ${fmt(sorted[0]!)}  max ${fmt(sorted[sorted.length - 1]!)}  (n=${values.length})`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { trials: { type: 'string', default: '20' }, 'budget-s': { type: 'string', default: '100' } },
  });
  const trials = Number(values.trials);
  const budgetMs = Number(values['budget-s']) * 1000;
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive whole number');
  if (!(budgetMs > 0)) throw new Error('--budget-s must be a positive number');
  console.log(
    `POST /v1/update {"force": true} -> old container stop start, ${trials} trials per kind, ` +
      'alternating with the lock-removed baseline (real engine, one agent)',
  );
  const started = performance.now();
  const samples: Samples = { force: [], baseline: [], roundTrip: [] };
  const bench = await Bench.start();
  try {
    await bench.warmUp();
    for (let i = 0; i < trials; i += 1) {
      if (performance.now() - started > budgetMs) {
        console.log(`time budget of ${budgetMs / 1000} s spent after ${i} trials per kind`);
        break;
      }
      // Alternate which kind goes first, so neither always follows the other.
      const order: Kind[] = i % 2 === 0 ? ['force', 'baseline'] : ['baseline', 'force'];
      for (const kind of order) {
        const { latencyMs, roundTripMs } = await bench.trial(kind);
        samples[kind].push(latencyMs);
        if (roundTripMs !== undefined) samples.roundTrip.push(roundTripMs);
      }
    }
  } finally {
    await bench.stop();
  }
  if (samples.force.length === 0) throw new Error('no trial finished within the time budget');
  console.log(line('force (POST /v1/update -> stop start)', samples.force));
  console.log(line('baseline (lock removed -> stop start)', samples.baseline));
  console.log(line('API round trip (POST -> 204)', samples.roundTrip));
  const ratio = (f: (v: number[]) => number) => (f(samples.force) / f(samples.baseline)).toFixed(2);
  const p95 = (v: number[]) =>
    percentile(
      [...v].sort((a, b) => a - b),
      0.95,
    );
  console.log(`ratio force/baseline: median ${ratio(median)}  p95 ${ratio(p95)}`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
