/**
 * Targets are applied in the order they were accepted, whatever their side effects take (a
 * target with a supervisor-api service first stores its app key): two overlapping local offers
 * leave the engine on the second, which is also the stored one.
 */
import { promises as fs } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/start-agent.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { silentLogger } from '../../../src/util/logger.js';
import { deviceObject } from '../../helpers/targets.js';
import { waitFor } from '../../helpers/wait.js';
import { tempAgentConfig } from '../../helpers/agent-config.js';

const UUID = 'order0000000000000000000000000ab';
let agent: RunningAgent | undefined;
let root: string | undefined;
afterEach(async () => {
  await agent?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** Release `n` of app 1 (no API key needed) and app 2 (asks for one) in one target. */
const target = (n: number) =>
  deviceObject({
    appUuid: 'app1',
    appId: 81,
    releaseUuid: `rel${n}`,
    releaseId: n,
    services: { main: { image: `reg/main:${n}` } },
    extraApps: {
      app2: {
        id: 82,
        name: 'api-user',
        releases: {
          [`relb${n}`]: {
            id: n,
            services: {
              main: {
                id: 1,
                image_id: 900 + n,
                image: `reg/api:${n}`,
                labels: { 'io.balena.features.supervisor-api': '1' },
                composition: { network_mode: 'none' },
              },
            },
          },
        },
      },
    },
  });

describe('agent: targets reach the loop in the order they were accepted', () => {
  it('two overlapping local offers leave the engine on the second', async () => {
    const config = await tempAgentConfig('bosun-order-', { uuid: UUID, updateProbation: '60s' });
    root = config.root;
    const engine = new MemoryEngine();
    agent = await startAgent(config, {
      engine,
      log: silentLogger(),
      loop: { fallbackPollMs: 200, resyncMs: 1000 },
    });
    const verdicts = await Promise.all([
      agent.keeper.offerLocal(target(1)),
      agent.keeper.offerLocal(target(2)),
    ]);
    expect(verdicts).toEqual([{ accepted: true }, { accepted: true }]);
    expect(agent.keeper.target?.apps.app1?.release?.uuid).toBe('rel2');
    await waitFor(
      'the engine on release 2 only',
      async () => {
        const releases = (await engine.listContainers(UUID)).map((c) => c.releaseUuid).sort();
        return JSON.stringify(releases) === JSON.stringify(['rel2', 'relb2']);
      },
      5_000,
    );
    await agent.loop.nextPass();
    const releases = (await engine.listContainers(UUID)).map((c) => c.releaseUuid).sort();
    expect(releases).toEqual(['rel2', 'relb2']);
  });
});
