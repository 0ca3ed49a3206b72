/**
 * startAgent's localApi: false (the simulated fleet at scale): the agent runs, applies its
 * target and reports, without a local API server: nothing listens on its port.
 */
import { promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/start-agent.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { silentLogger } from '../../../src/util/logger.js';
import { tempAgentConfig } from '../../helpers/agent-config.js';
import { deviceObject } from '../../helpers/targets.js';
import { waitFor } from '../../helpers/wait.js';

const UUID = 'noapi0000000000000000000000000ab';
let agent: RunningAgent | undefined;
let root: string | undefined;
afterEach(async () => {
  await agent?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** A loopback port nothing listens on now. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('agent/start-agent without a local API (localApi: false)', () => {
  it('applies its target, with nothing listening on its API port', async () => {
    const port = await closedPort();
    const config = await tempAgentConfig('bosun-noapi-', { uuid: UUID, listenPort: port });
    root = config.root;
    const engine = new MemoryEngine();
    agent = await startAgent(config, { engine, log: silentLogger(), localApi: false });
    expect(agent.apiPort).toBe(port);
    const target = deviceObject({
      appUuid: 'app1',
      appId: 91,
      releaseUuid: 'rel1',
      releaseId: 1,
      services: { main: { image: 'reg/main:1' } },
    });
    expect(await agent.keeper.offerLocal(target)).toEqual({ accepted: true });
    await waitFor('the release running', async () =>
      (await engine.listContainers(UUID)).some((c) => c.releaseUuid === 'rel1' && c.status === 'running'),
    );
    await expect(fetch(`http://127.0.0.1:${port}/ping`)).rejects.toThrow('fetch failed');
  });
});
