/**
 * The agent's local API is built on its first request (issue #15, src/api/front.ts): an agent
 * that nobody calls never loads it, yet its port is bound at start, and a port that cannot be
 * bound fails the start as it always did. (That the bundle keeps fastify out of what `bosun
 * agent` loads at start is checked by the build, scripts/build/bundle.ts.)
 */
import { promises as fs } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/start-agent.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { silentLogger } from '../../../src/util/logger.js';
import { tempAgentConfig } from '../../helpers/agent-config.js';
import { captureLog } from '../../helpers/log-capture.js';
import { rawApi } from '../../helpers/raw-api.js';
import { sleep } from '../../helpers/wait.js';

const UUID = 'lazyapi0000000000000000000000001';
const KEY = 'lazy-api-key';
const BUILT = 'local API built on its first request';

let agent: RunningAgent | undefined;
let root: string | undefined;
let blocker: Server | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
  if (root) await fs.rm(root, { recursive: true, force: true });
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

const builtLines = (text: string) => text.split('\n').filter((line) => line.includes(BUILT));

describe('agent: the local API on first use', () => {
  it('binds its port at start, builds the API on the first requests (once), and not before', async () => {
    const config = await tempAgentConfig('bosun-lazy-api-', { uuid: UUID, apiKey: KEY });
    root = config.root;
    const { log, text } = captureLog();
    agent = await startAgent(config, { engine: new MemoryEngine(), log });
    expect(agent.apiPort).toBeGreaterThan(0);
    expect(text()).toContain('local API listening');
    // A while of an idle agent (its loop passing) builds nothing.
    await sleep(300);
    expect(builtLines(text())).toEqual([]);

    const first = await Promise.all([
      rawApi(agent.apiPort, 'GET', '/ping'),
      rawApi(agent.apiPort, 'GET', '/v2/version', { headers: { Authorization: `Bearer ${KEY}` } }),
      rawApi(agent.apiPort, 'GET', '/v2/version'),
    ]);
    expect(first.map((r) => r.status)).toEqual([200, 200, 401]);
    expect(builtLines(text())).toHaveLength(1);
    expect((await rawApi(agent.apiPort, 'GET', '/ping')).status).toBe(200);
    expect(builtLines(text())).toHaveLength(1);
  });

  it('fails the start when its port cannot be bound', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, '127.0.0.1', () => resolve()));
    const taken = (blocker.address() as { port: number }).port;
    const config = await tempAgentConfig('bosun-lazy-api-', {
      uuid: UUID,
      apiKey: KEY,
      listenAddress: '127.0.0.1',
      listenPort: taken,
    });
    root = config.root;
    await expect(
      startAgent(config, { engine: new MemoryEngine(), log: silentLogger() }),
    ).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
