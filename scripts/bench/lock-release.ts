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
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startAgent, type RunningAgent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/load.js';
import { DockerEngine } from '../../src/engine/docker.js';
import type { ContainerInfo } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';

const REGISTRY = '127.0.0.1:5000';
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

function targetFor(uuid: string, appUuid: string, release: number): unknown {
  return {
    name: 'lock-bench',
    config: {},
    apps: {
      [appUuid]: {
        id: APP_ID,
        name: 'lock-bench',
        releases: {
          [`${appUuid}r${release}`]: {
            id: release,
            services: {
              main: {
                id: 1,
                image_id: release,
                image: IMAGES[release % 2],
                composition: { network_mode: 'none', stop_grace_period: '1s' },
              },
            },
          },
        },
      },
    },
  };
}

/** Runs `trials` lock-release trials in one mode; returns each latency in ms. */
async function runMode(mode: Mode, trials: number): Promise<number[]> {
  const root = await mkdtemp(path.join(tmpdir(), 'bosun-lock-bench-'));
  const uuid = randomUUID().replace(/-/g, '');
  const appUuid = `lockbench${uuid.slice(0, 8)}`;
  const engine = new DockerEngine({ dockerHost: 'unix:///var/run/docker.sock' });
  // Timestamp the start of every stop: that is the kill the lock was holding back.
  const stopStarts = new Map<string, number>();
  const stop = engine.stopContainer.bind(engine);
  engine.stopContainer = (id, timeoutSec) => {
    stopStarts.set(id, performance.now());
    return stop(id, timeoutSec);
  };
  const config = {
    ...loadConfig({}),
    dataDir: path.join(root, 'data'),
    lockDir: path.join(root, 'locks'),
    listenPort: 0,
    uuid,
    apiKey: 'lock-bench',
    logLevel: 'silent' as const,
    lockWatch: mode.lockWatch,
  };
  const agent: RunningAgent = await startAgent(config, { engine, log: silentLogger() });
  const lockFile = path.join(config.lockDir, String(APP_ID), 'main', 'updates.lock');
  const runningRelease = (release: number) =>
    until(`release ${release} running`, async () => {
      const cs: ContainerInfo[] = await engine.listContainers(uuid);
      const ok = cs.length === 1 && cs[0]!.releaseId === release && cs[0]!.status === 'running';
      return ok ? cs[0] : undefined;
    });
  const latencies: number[] = [];
  try {
    await offer(agent, targetFor(uuid, appUuid, 1));
    let current = await runningRelease(1);
    for (let trial = 2; trial <= trials + 1; trial += 1) {
      // The agent drops its own lock just after the new container runs: retry as an app would.
      await until('the app taking its lock', () => takeLock(lockFile));
      await offer(agent, targetFor(uuid, appUuid, trial));
      await until('locked', () => (agent.loop.status.apps[appUuid]?.phase === 'locked' ? true : undefined));
      await sleep(Math.random() * mode.maxPauseMs);
      const releasedAt = performance.now();
      await rm(lockFile);
      const killedAt = await until('the kill', () => stopStarts.get(current.id), 10_000);
      latencies.push(killedAt - releasedAt);
      current = await runningRelease(trial);
    }
  } finally {
    await agent.stop();
    for (const c of await engine.listContainers(uuid)) await engine.removeContainer(c.id, { force: true });
    await rm(root, { recursive: true, force: true });
  }
  return latencies;
}

/** Exclusive create, as an app's `set -C; : > lock` does; undefined while someone holds it. */
async function takeLock(file: string): Promise<true | undefined> {
  try {
    await writeFile(file, '', { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
}

async function offer(agent: RunningAgent, target: unknown): Promise<void> {
  const verdict = await agent.keeper.offerLocal(target);
  if (!verdict.accepted) throw new Error(`target rejected: ${verdict.reason}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
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
