/**
 * target_warnings in the state report (contract section 5) and the device policy where targets
 * are accepted (section 11), through a whole agent on the in-memory engine and a fake cloud.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/start-agent.js';
import type { AgentConfig } from '../../../src/config/schema.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { silentLogger } from '../../../src/util/logger.js';
import { deviceObject } from '../../helpers/targets.js';
import { waitFor } from '../../helpers/wait.js';
import { FakeCloud } from '../../helpers/fake-cloud.js';
import { tempAgentConfig } from '../../helpers/agent-config.js';

const UUID = 'abadcafeabadcafeabadcafeabadcafe';

const device = (composition: Record<string, unknown>) =>
  deviceObject({
    appUuid: 'app1',
    appId: 81,
    releaseUuid: 'r1',
    releaseId: 1,
    services: { main: { image: 'reg/x:1', composition } },
  });

const running: RunningAgent[] = [];
const clouds: FakeCloud[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop();
  for (const cloud of clouds.splice(0)) await cloud.close();
});

function config(over: Partial<AgentConfig> = {}): Promise<AgentConfig> {
  return tempAgentConfig('bosun-admission-', { apiKey: 'admission-key', uuid: UUID, ...over });
}

async function start(cfg: AgentConfig): Promise<RunningAgent> {
  const agent = await startAgent(cfg, { engine: new MemoryEngine(), log: silentLogger() });
  running.push(agent);
  return agent;
}

describe('agent: target_warnings and the device policy', () => {
  it('reports a skipped bind mount in target_warnings to the cloud', async () => {
    const cloud = await FakeCloud.start();
    clouds.push(cloud);
    cloud.fallback(`GET /device/v3/${UUID}/state`, {
      status: 200,
      headers: { ETag: '"e1"', 'Content-Type': 'application/json' },
      body: JSON.stringify({ [UUID]: device({ volumes: ['/etc:/host-etc'] }) }),
    });
    cloud.fallback('PATCH /device/v3/state', { status: 200, body: {} });
    await start(
      await config({
        apiEndpoint: cloud.url,
        deviceApiKey: 'k',
        pollIntervalMs: 1_000,
        reportIntervalMs: 100,
      }),
    );
    const warnings = await waitFor(
      'a report with target_warnings',
      () =>
        cloud
          .requestsTo('PATCH /device/v3/state')
          .map(
            (r) =>
              (JSON.parse(r.body) as Record<string, { target_warnings?: unknown[] }>)[UUID]?.target_warnings,
          )
          .find((w) => w !== undefined && w.length > 0),
      5_000,
    );
    expect(warnings).toEqual([
      {
        path: 'apps.app1.releases.r1.services.main.composition.volumes[0]',
        message: expect.stringMatching(/^bind mount "\/etc:\/host-etc" not applied/),
      },
    ]);
  });

  it('checks a stored target against the policy again at start', async () => {
    const cfg = await config();
    const first = await start(cfg);
    expect(await first.keeper.offerLocal(device({ privileged: true }))).toEqual({ accepted: true });
    await first.stop();
    running.splice(running.indexOf(first), 1);

    const policyFile = path.join(cfg.dataDir, '..', 'policy.json');
    await fs.writeFile(policyFile, JSON.stringify({ allowPrivileged: false }));
    const second = await start({ ...cfg, policyFile });
    expect(second.keeper.target).toBeUndefined();
    expect(second.keeper.targetError).toMatch(
      /^stored target no longer valid: device policy: app "app-81" \(app1\), service "main": privileged is true, but allowPrivileged is false/,
    );
  });
});
