import { promises as fs } from 'node:fs';
import type { AgentConfig } from '../../src/config/schema.js';
import type { ContainerInfo, Engine } from '../../src/engine/types.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from './docker.js';
import { RecordingEngine } from './recording-engine.js';
import { tempAgentConfig } from './agent-config.js';
import { rawApi, type Reply } from './raw-api.js';
import {
  createLogger,
  DockerEngine,
  loadConfig,
  silentLogger,
  startAgent,
  type AgentOptions,
  type RunningAgent,
} from './shipped-agent.js';

export const TEST_API_KEY = 'test-global-key';

export interface TestAgent {
  agent: RunningAgent;
  config: AgentConfig;
  engine: Engine;
  uuid: string;
  /** Offer a v3 device object (or v2 local shape) as the local target; throws if rejected. */
  setTarget(device: unknown): Promise<void>;
  containers(): Promise<ContainerInfo[]>;
  /** Call the local API with the global key. */
  api(method: string, route: string, body?: unknown): Promise<Reply>;
  /** Stop the agent only (containers, dirs and identity kept: for restart tests). */
  stopAgent(): Promise<void>;
  /** Start a new agent on the same data dir and uuid. */
  restart(): Promise<void>;
  /** Stop, remove this test's containers and volumes, delete its dirs. */
  cleanup(): Promise<void>;
}

export interface TestAgentOptions {
  config?: Partial<AgentConfig>;
  engine?: Engine;
  agent?: AgentOptions;
}

/**
 * A real agent (real loop, locks, API) on the real Docker engine, in local mode, with its own
 * temporary data and lock dirs and its own device uuid, so test files never touch each other.
 * The agent, its engine and its logger are the bundle's code (test/helpers/shipped-agent.ts).
 */
export async function startTestAgent(options: TestAgentOptions = {}): Promise<TestAgent> {
  const uuid = options.config?.uuid ?? uniqueDeviceUuid();
  const { root, ...config } = await tempAgentConfig(
    'bosun-test-',
    { apiKey: TEST_API_KEY, uuid, ...options.config },
    loadConfig,
  );
  const engine = options.engine ?? new DockerEngine({ dockerHost: DOCKER_HOST });
  await requireEngine(engine);
  const log = process.env.BOSUN_TEST_LOG ? createLogger('debug', 'test-agent') : silentLogger();
  const agentOptions: AgentOptions = {
    log,
    loop: { fallbackPollMs: 500, resyncMs: 2_000, backoff: { baseMs: 200, capMs: 2_000 } },
    ...options.agent,
  };
  let agent = await startAgent(config, { engine, ...agentOptions });

  const self: TestAgent = {
    get agent() {
      return agent;
    },
    config,
    engine,
    uuid,
    async setTarget(device) {
      const verdict = await agent.keeper.offerLocal(device);
      if (!verdict.accepted) throw new Error(`target rejected: ${verdict.reason}`);
    },
    containers: () => engine.listContainers(uuid),
    api: (method, route, body) =>
      rawApi(agent.apiPort, method, route, { headers: { Authorization: `Bearer ${TEST_API_KEY}` }, body }),
    stopAgent: () => agent.stop(),
    async restart() {
      await agent.stop();
      agent = await startAgent(config, { engine, ...agentOptions });
    },
    async cleanup() {
      await agent.stop();
      await removeContainersOf(uuid);
      await fs.rm(root, { recursive: true, force: true });
    },
  };
  return self;
}

/**
 * A test agent over a RecordingEngine wrapping the real engine, so a test can check the order
 * and times of the engine calls an update made.
 */
export async function startRecordingAgent(
  options: Omit<TestAgentOptions, 'engine'> = {},
): Promise<{ t: TestAgent; engine: RecordingEngine }> {
  const engine = new RecordingEngine(new DockerEngine({ dockerHost: DOCKER_HOST }));
  return { t: await startTestAgent({ ...options, engine }), engine };
}

// What engine tests used to import from here: one import site for them, no engine for the others.
export { rawApi, type Reply } from './raw-api.js';
export { sleep, unique, waitFor } from './wait.js';
export { deviceObject, type ServiceDef } from './targets.js';
