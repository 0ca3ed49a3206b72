/**
 * Contract section 10 latencies, on the real Docker engine with a real agent (startAgent):
 * - rollback: a release on probation fails (its service exits 1) -> the previous release runs
 *   again; split into detection (exit -> the agent marks the release failed) and the rollback
 *   itself (marked -> previous release running). Goal: the rollback under 2 s.
 * - window: an update scheduled outside its window -> the old container's stop starts, measured
 *   from the moment the window opens (the agent's clock is moved so it opens a few seconds into
 *   the trial). Goal: under 1 s.
 * - deadline: an update waiting on a user lock -> the old container's stop starts, from the
 *   moment the lock deadline passes. Goal: under 1 s.
 * Prints median and p95 per measure; asserts nothing. Needs the local stack (scripts/stack/up.sh).
 * Run: npm run build && node dist/scripts/bench/update-policies.js [--trials 5]
 */
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
const APP_ID = 9961;

function targetFor(
  appUuid: string,
  release: number,
  over: { composition?: Record<string, unknown>; labels?: Record<string, string> } = {},
): unknown {
  return oneServiceTarget({
    name: 'policy-bench',
    appUuid,
    appId: APP_ID,
    releaseUuid: `${appUuid}r${release}`,
    releaseId: release,
    image: IMAGES[release % 2]!,
    ...over,
  });
}

function runningRelease(bench: {
  engine: { listContainers(u: string): Promise<ContainerInfo[]> };
  uuid: string;
}) {
  return (release: number) =>
    until(
      `release ${release} running`,
      async () => {
        const cs = await bench.engine.listContainers(bench.uuid);
        const ok = cs.length === 1 && cs[0]!.releaseId === release && cs[0]!.status === 'running';
        return ok ? cs[0] : undefined;
      },
      30_000,
      20,
    );
}

/** exit -> marked failed, and marked failed -> previous release running, per trial. */
async function rollbackTrials(trials: number): Promise<{ detect: number[]; rollback: number[] }> {
  const { engine } = stopTimedEngine();
  const bench = await startBenchAgent(engine, 'bosun-policy-bench-', { updateProbation: '60s' });
  const appUuid = `policybench${bench.uuid.slice(0, 8)}`;
  const running = runningRelease(bench);
  const detect: number[] = [];
  const rollback: number[] = [];
  try {
    let good = 1;
    await bench.offer(targetFor(appUuid, good));
    await running(good);
    await until('probation started', () => bench.agent.loop.status.apps[appUuid]?.probationEndsAt);
    for (let trial = 0; trial < trials; trial += 1) {
      const bad = good + 1;
      await bench.offer(
        targetFor(appUuid, bad, { composition: { command: ['sh', '-c', 'sleep 1; exit 1'], restart: 'no' } }),
      );
      await running(bad);
      const exitedAt = await until(
        'the bad release exiting',
        async () => {
          const [c] = await engine.listContainers(bench.uuid);
          return c?.status === 'exited' ? performance.now() : undefined;
        },
        10_000,
        5,
      );
      const markedAt = await until('marked failed', () =>
        bench.agent.loop.status.apps[appUuid]?.failedRelease ? performance.now() : undefined,
      );
      await running(good);
      detect.push(markedAt - exitedAt);
      rollback.push(performance.now() - markedAt);
      // The next trial starts from a good release again: the target moves past the failed one.
      good = bad + 1;
      await bench.offer(targetFor(appUuid, good));
      await running(good);
      // Only a release the agent has seen run (on probation now) is one a rollback returns to.
      await until('probation started', () => bench.agent.loop.status.apps[appUuid]?.probationEndsAt);
    }
  } finally {
    await bench.stop();
  }
  return { detect, rollback };
}

/** Window opening -> the old container's stop starts, per trial. */
async function windowTrials(trials: number): Promise<number[]> {
  const latencies: number[] = [];
  for (let trial = 0; trial < trials; trial += 1) {
    const { engine, stopStarts } = stopTimedEngine();
    // The agent's clock: the next whole minute is 4 s away.
    const opensAtClock = Math.ceil((Date.now() + 60_000) / 60_000) * 60_000;
    const offset = opensAtClock - 4_000 - Date.now();
    const bench = await startBenchAgent(
      engine,
      'bosun-window-bench-',
      { updateProbation: '0' },
      {
        loop: { now: () => Date.now() + offset },
      },
    );
    try {
      const appUuid = `windowbench${bench.uuid.slice(0, 8)}`;
      const running = runningRelease(bench);
      await bench.offer(targetFor(appUuid, 1));
      const old = await running(1);
      const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
      const window = `${hhmm(opensAtClock)}-${hhmm(opensAtClock + 600_000)} UTC`;
      await bench.offer(targetFor(appUuid, 2, { labels: { 'io.bosun.update.window': window } }));
      const killedAt = await until('the kill', () => stopStarts.get(old.id), 20_000);
      // performance.now() at the moment the agent's clock reached the window's opening.
      const opensAt = performance.now() - (Date.now() + offset - opensAtClock);
      latencies.push(killedAt - opensAt);
    } finally {
      await bench.stop();
    }
  }
  return latencies;
}

/** Lock deadline passing -> the old container's stop starts, per trial. */
async function deadlineTrials(trials: number): Promise<number[]> {
  const { engine, stopStarts } = stopTimedEngine();
  const bench = await startBenchAgent(engine, 'bosun-deadline-bench-', {
    updateProbation: '0',
    updateLockDeadline: '1500ms',
  });
  const appUuid = `deadlinebench${bench.uuid.slice(0, 8)}`;
  const lockFile = path.join(bench.config.lockDir, String(APP_ID), 'main', 'updates.lock');
  const running = runningRelease(bench);
  const latencies: number[] = [];
  try {
    await bench.offer(targetFor(appUuid, 1));
    let current = await running(1);
    for (let release = 2; release <= trials + 1; release += 1) {
      await until('the app taking its lock', () => takeLock(lockFile));
      await bench.offer(targetFor(appUuid, release));
      const deadline = await until(
        'locked with a deadline',
        () => bench.agent.loop.status.apps[appUuid]?.lockDeadlineAt,
      );
      const killedAt = await until('the kill', () => stopStarts.get(current.id), 10_000);
      // Date.now() time of the deadline, on performance.now()'s scale.
      latencies.push(killedAt - (performance.now() - (Date.now() - deadline)));
      current = await running(release);
      await sleep(50);
    }
  } finally {
    await bench.stop();
  }
  return latencies;
}

function line(name: string, values: number[], goal: string): string {
  const sorted = [...values].sort((a, b) => a - b);
  const fmt = (ms: number) => `${ms.toFixed(0)} ms`.padStart(8);
  return `${name.padEnd(40)} median ${fmt(percentile(sorted, 0.5))}  p95 ${fmt(percentile(sorted, 0.95))}  (${goal})`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { trials: { type: 'string', default: '5' } } });
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error('--trials must be a positive whole number');
  console.log(`update policy latencies, ${trials} trials each (real engine)`);
  const { detect, rollback } = await rollbackTrials(trials);
  console.log(line('failure -> marked failed (detection)', detect, 'checked every 1 s on probation'));
  console.log(line('marked failed -> previous release running', rollback, 'goal under 2000 ms'));
  console.log(line('window opens -> first kill', await windowTrials(trials), 'goal under 1000 ms'));
  console.log(line('deadline passes -> first kill', await deadlineTrials(trials), 'goal under 1000 ms'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
