/**
 * Lock release to kill latency: how long an update that waits on an app's update lock takes to
 * resume once the app releases the lock (contract section 7: "without waiting for a poll or a long
 * backoff"). balena-supervisor retries on a backoff that grows to 15 minutes.
 *
 * A trial, on the real Docker engine with a real agent (startAgent): the app's container runs;
 * the app's lock is taken (exclusive create of the host path, as an app's `set -C` does); a new
 * release is offered with its image already present; once the agent reports the app `locked`
 * and after a random pause (so a poll's phase is sampled fairly), the lock file is removed and
 * the clock runs until the engine's stopContainer call for the old container begins.
 *
 * Two modes, one after the other: the lock dir watcher (default) and the watcher disabled
 * (config lockWatch false: the loop's fallback poll alone, default 2000 ms).
 * Prints median and p95 per mode; asserts nothing. Needs the local stack (scripts/stack/up.sh).
 * Run: npm run build && node dist/scripts/bench/lock-release.js [--trials 20]
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { ContainerInfo } from '../../src/engine/types.js';
import {
  REGISTRY,
  percentile,
  sleep,
  startBenchAgent,
  stopTimedEngine,
  takeLock,
  until,
  oneServiceTarget,
} from './bench-agent.js';

const IMAGES = [`${REGISTRY}/bosun/locker:1`, `${REGISTRY}/bosun/locker:2`];
const APP_ID = 9951;
/** The loop's default fallback poll: the pause before a release is drawn from [0, this). */
const FALLBACK_POLL_MS = 2_000;

interface Mode {
  name: string;
  lockWatch: boolean;
  /** Upper bound of the random pause between "locked" and the release. */
  maxPauseMs: number;
}

const MODES: Mode[] = [
  { name: 'watcher (default)', lockWatch: true, maxPauseMs: 300 },
  {
    name: `no watcher (fallback poll ${FALLBACK_POLL_MS} ms)`,
    lockWatch: false,
    maxPauseMs: FALLBACK_POLL_MS,
  },
];

function targetFor(appUuid: string, release: number): unknown {
  return oneServiceTarget({
    name: 'lock-bench',
    appUuid,
    appId: APP_ID,
    releaseUuid: `${appUuid}r${release}`,
    releaseId: release,
    image: IMAGES[release % 2]!,
  });
}

/** Runs `trials` lock-release trials in one mode; returns each latency in ms. */
async function runMode(mode: Mode, trials: number): Promise<number[]> {
  const { engine, stopStarts } = stopTimedEngine();
  const bench = await startBenchAgent(engine, 'bosun-lock-bench-', {
    apiKey: 'lock-bench',
    lockWatch: mode.lockWatch,
  });
  const { agent, uuid } = bench;
  const appUuid = `lockbench${uuid.slice(0, 8)}`;
  const lockFile = path.join(bench.config.lockDir, String(APP_ID), 'main', 'updates.lock');
  const runningRelease = (release: number) =>
    until(`release ${release} running`, async () => {
      const cs: ContainerInfo[] = await engine.listContainers(uuid);
      const ok = cs.length === 1 && cs[0]!.releaseId === release && cs[0]!.status === 'running';
      return ok ? cs[0] : undefined;
    });
  const latencies: number[] = [];
  try {
    await bench.offer(targetFor(appUuid, 1));
    let current = await runningRelease(1);
    for (let trial = 2; trial <= trials + 1; trial += 1) {
      // The agent drops its own lock just after the new container runs: retry as an app would.
      await until('the app taking its lock', () => takeLock(lockFile));
      await bench.offer(targetFor(appUuid, trial));
      await until('locked', () => (agent.loop.status.apps[appUuid]?.phase === 'locked' ? true : undefined));
      await sleep(Math.random() * mode.maxPauseMs);
      const releasedAt = performance.now();
      await rm(lockFile);
      const killedAt = await until('the kill', () => stopStarts.get(current.id), 10_000);
      latencies.push(killedAt - releasedAt);
      current = await runningRelease(trial);
    }
  } finally {
    await bench.stop();
  }
  return latencies;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: 'string', default: '20' } } });
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive whole number');
  console.log(`lock release -> kill start latency, ${trials} trials per mode (real engine)`);
  for (const mode of MODES) {
    const started = performance.now();
    const sorted = (await runMode(mode, trials)).sort((a, b) => a - b);
    const fmt = (ms: number) => `${ms.toFixed(0)} ms`;
    console.log(
      `${mode.name.padEnd(34)} median ${fmt(percentile(sorted, 0.5)).padStart(8)}  p95 ${fmt(percentile(sorted, 0.95)).padStart(8)}` +
        `  min ${fmt(sorted[0]!)}  max ${fmt(sorted[sorted.length - 1]!)}  (${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
