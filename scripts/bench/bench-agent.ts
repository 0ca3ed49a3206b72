/**
 * What the benchmarks that drive a real agent share: a silent agent in local mode with its own
 * temporary dirs and device uuid, targets offered to it directly, a polling wait, an engine that
 * timestamps its stops, an app's lock taken from the host, and percentiles.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgent, type AgentOptions, type RunningAgent } from '../../src/agent/start-agent.js';
import { loadConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/schema.js';
import { DockerEngine } from '../../src/engine/docker-engine.js';
import type { Engine } from '../../src/engine/types.js';
import { silentLogger } from '../../src/util/logger.js';

export const REGISTRY = '127.0.0.1:5000';

export interface BenchAgent {
  agent: RunningAgent;
  config: AgentConfig;
  engine: Engine;
  uuid: string;
  /** Offers a v3 device object as the local target; throws when the agent rejects it. */
  offer(doc: unknown): Promise<void>;
  /** Stops the agent, force-removes its containers, deletes its dirs. */
  stop(): Promise<void>;
}

/** Starts an agent on `engine` with its data and lock dirs under a new temp dir named `prefix…`. */
export async function startBenchAgent(
  engine: Engine,
  prefix: string,
  config: Partial<AgentConfig> = {},
  options: Omit<AgentOptions, 'engine' | 'log'> = {},
): Promise<BenchAgent> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  const uuid = randomUUID().replace(/-/g, '');
  const full: AgentConfig = {
    ...loadConfig({}),
    dataDir: path.join(root, 'data'),
    lockDir: path.join(root, 'locks'),
    listenPort: 0,
    uuid,
    logLevel: 'silent',
    ...config,
  };
  let agent: RunningAgent;
  try {
    agent = await startAgent(full, { ...options, engine, log: silentLogger() });
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return {
    agent,
    config: full,
    engine,
    uuid,
    async offer(doc) {
      const verdict = await agent.keeper.offerLocal(doc);
      if (!verdict.accepted) throw new Error(`bench target rejected: ${verdict.reason}`);
    },
    async stop() {
      try {
        await agent.stop();
      } finally {
        for (const c of await engine.listContainers(uuid))
          await engine.removeContainer(c.id, { force: true });
        await rm(root, { recursive: true, force: true });
      }
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `check` every `everyMs` until it gives something other than undefined or false, and
 * returns that; throws naming `what` after `timeoutMs`.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 5,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * A DockerEngine on the local socket that timestamps (performance.now()) the start of every stop
 * by container id: in the lock benchmarks, that is the kill the lock was holding back.
 */
export function stopTimedEngine(): { engine: DockerEngine; stopStarts: Map<string, number> } {
  const engine = new DockerEngine({ dockerHost: 'unix:///var/run/docker.sock' });
  const stopStarts = new Map<string, number>();
  const stop = engine.stopContainer.bind(engine);
  engine.stopContainer = (id, timeoutSec) => {
    stopStarts.set(id, performance.now());
    return stop(id, timeoutSec);
  };
  return { engine, stopStarts };
}

/** Exclusive create, as an app's `set -C; : > lock` does; undefined while someone holds it. */
export async function takeLock(file: string): Promise<true | undefined> {
  try {
    await writeFile(file, '', { flag: 'wx' });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw err;
  }
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

export interface OneServiceRelease {
  name: string;
  appUuid: string;
  appId: number;
  releaseUuid: string;
  releaseId: number;
  image: string;
  labels?: Record<string, string>;
  /** Merged over a fast stop and no network. */
  composition?: Record<string, unknown>;
}

/** A local-mode target of one app whose release has one service `main`: what the benches offer. */
export function oneServiceTarget(r: OneServiceRelease): unknown {
  return {
    name: r.name,
    config: {},
    apps: {
      [r.appUuid]: {
        id: r.appId,
        name: r.name,
        releases: {
          [r.releaseUuid]: {
            id: r.releaseId,
            services: {
              main: {
                id: 1,
                image_id: r.releaseId,
                image: r.image,
                labels: r.labels ?? {},
                composition: { network_mode: 'none', stop_grace_period: '1s', ...r.composition },
              },
            },
          },
        },
      },
    },
  };
}
