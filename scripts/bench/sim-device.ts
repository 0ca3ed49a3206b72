/**
 * One simulated device: a real bosun agent (poller, reporter, reconcile loop, lock manager, local
 * API) over an in-memory engine, with its own data and lock dirs on disk so the real lock code
 * runs. Shared by the simulated-fleet tests (test/helpers/fleet-sim.ts) and the rollout benchmark.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startAgent, type AgentOptions, type RunningAgent } from '../../src/agent/start-agent.js';
import { loadConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/schema.js';
import { MemoryEngine, type MemoryEngineOptions } from '../../src/engine/memory-engine.js';
import { serviceLockDir } from '../../src/locks/paths.js';
import { silentLogger, type Logger } from '../../src/util/logger.js';

export interface SimDeviceOptions {
  /** Parent dir; the device gets `<root>/<index>/{data,locks}`. */
  root: string;
  index: number;
  apiEndpoint: string;
  fleet: string;
  provisioningKey: string;
  /** How long a pull of a new image takes on this device. */
  pullDelayMs: number;
  /** Containers that exit by themselves after starting (a release failing probation: sim-failures.ts). */
  exitAfterStart?: MemoryEngineOptions['exitAfterStart'];
  pollIntervalMs: number;
  reportIntervalMs: number;
  /** Overrides of the agent config (e.g. lockWatch: false for a thousand devices). */
  config?: Partial<AgentConfig>;
  /** Overrides of the agent options (loop timings). */
  agent?: AgentOptions;
  log?: Logger;
}

export interface ApiAnswer {
  status: number;
  body: unknown;
  text: string;
}

/** Fast loop timings: a simulated device must react within a fraction of a poll interval. */
export const SIM_LOOP_TIMINGS = {
  fallbackPollMs: 500,
  resyncMs: 5_000,
  backoff: { baseMs: 200, capMs: 2_000 },
};

/** The key of every simulated device's local API. */
export const SIM_API_KEY = 'sim-device-api-key';

export class SimDevice {
  private constructor(
    readonly index: number,
    readonly config: AgentConfig,
    readonly engine: MemoryEngine,
    private running: RunningAgent,
    private readonly startOptions: AgentOptions,
  ) {}

  /** Starts the agent; resolves once it has registered with the backend. */
  static async start(options: SimDeviceOptions): Promise<SimDevice> {
    const dir = path.join(options.root, String(options.index));
    const config: AgentConfig = {
      ...loadConfig({}),
      apiEndpoint: options.apiEndpoint,
      fleet: options.fleet,
      provisioningKey: options.provisioningKey,
      dataDir: path.join(dir, 'data'),
      lockDir: path.join(dir, 'locks'),
      listenPort: 0,
      apiKey: SIM_API_KEY,
      pollIntervalMs: options.pollIntervalMs,
      reportIntervalMs: options.reportIntervalMs,
      logLevel: 'silent',
      // Probation looks at every app once a second for a minute after each update: a fleet of a
      // thousand simulated devices asks for it only where a test is about it.
      updateProbation: '0',
      ...options.config,
    };
    const engine = new MemoryEngine({
      pullDelayMs: options.pullDelayMs,
      exitAfterStart: options.exitAfterStart,
    });
    const startOptions: AgentOptions = {
      engine,
      log: options.log ?? silentLogger(),
      loop: SIM_LOOP_TIMINGS,
      ...options.agent,
    };
    const agent = await startAgent(config, startOptions);
    return new SimDevice(options.index, config, engine, agent, startOptions);
  }

  get agent(): RunningAgent {
    return this.running;
  }

  get uuid(): string {
    return this.running.identity.uuid;
  }

  /** Host path of a service's `updates.lock` (`/tmp/balena/updates.lock` inside its container). */
  lockPath(appId: number, service = 'main'): string {
    return path.join(
      serviceLockDir({ lockDir: this.config.lockDir, dataDir: this.config.dataDir }, appId, service),
      'updates.lock',
    );
  }

  /**
   * Takes the app's update lock as a device app does: exclusive create of the lock file, which
   * fails if anything is there already. Returns the host path.
   */
  async takeLock(appId: number, service = 'main'): Promise<string> {
    const file = this.lockPath(appId, service);
    // The agent creates this dir when it creates the container; an app would find it mounted.
    await fs.mkdir(path.dirname(file), { recursive: true });
    const handle = await fs.open(file, 'wx');
    await handle.close();
    return file;
  }

  async releaseLock(appId: number, service = 'main'): Promise<void> {
    await fs.unlink(this.lockPath(appId, service));
  }

  async lockExists(appId: number, service = 'main'): Promise<boolean> {
    try {
      await fs.lstat(this.lockPath(appId, service));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Calls the device's local API with the global key. */
  async api(method: string, route: string, body?: unknown): Promise<ApiAnswer> {
    const response = await fetch(`http://127.0.0.1:${this.running.apiPort}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${SIM_API_KEY}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: parseMaybeJson(text), text };
  }

  /** Stops the agent; its dirs stay (restart() picks them up again). */
  stop(): Promise<void> {
    return this.running.stop();
  }

  /** A new agent on the same data dir, uuid and engine, as after a process restart. */
  async restart(): Promise<void> {
    await this.running.stop();
    this.running = await startAgent(this.config, this.startOptions);
  }
}

function parseMaybeJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return text; // plain-text answers such as /ping's OK
    throw err;
  }
}

/** Starts `count` devices, at most `concurrency` starting at once; stops them all if one fails. */
export async function startSimDevices(
  count: number,
  concurrency: number,
  make: (index: number) => SimDeviceOptions,
): Promise<SimDevice[]> {
  const devices: SimDevice[] = new Array(count);
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < count && errors.length === 0) {
      const index = next++;
      try {
        devices[index] = await SimDevice.start(make(index));
      } catch (err) {
        errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  if (errors.length > 0) {
    await Promise.allSettled(devices.filter(Boolean).map((d) => d.stop()));
    throw errors[0];
  }
  return devices;
}
