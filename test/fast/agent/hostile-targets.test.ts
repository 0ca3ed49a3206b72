/**
 * The attack review's findings through a whole agent (in-memory engine, real local API, a fake
 * cloud): a target with a 200,000-deep value under an ignored key (#9) is rejected on every path
 * it can come by, the accepted target keeps running and is the one a restart comes back to; a
 * corrupt identity.json (#8) does not cost the device its containers.
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

const API_KEY = 'hostile-test-key';
const UUID = 'feedfacefeedfacefeedfacefeedface';
const DEEP = 200_000;

const device = (releaseUuid: string) =>
  deviceObject({
    appUuid: 'app1',
    appId: 71,
    releaseUuid,
    releaseId: 1,
    services: { main: { image: 'reg/x:1' } },
  });

/** A device object as JSON text with `"junk": [[[...]]]` DEEP levels deep (JSON.stringify cannot write it). */
const deepDeviceText = (releaseUuid: string) =>
  `${JSON.stringify(device(releaseUuid)).slice(0, -1)},"junk":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`;

const running: RunningAgent[] = [];
const clouds: FakeCloud[] = [];
afterEach(async () => {
  for (const agent of running.splice(0)) await agent.stop();
  for (const cloud of clouds.splice(0)) await cloud.close();
});

function config(over: Partial<AgentConfig> = {}): Promise<AgentConfig> {
  return tempAgentConfig('bosun-hostile-', { apiKey: API_KEY, uuid: UUID, updateProbation: '60s', ...over });
}

async function start(cfg: AgentConfig, engine: MemoryEngine): Promise<RunningAgent> {
  const agent = await startAgent(cfg, { engine, log: silentLogger() });
  running.push(agent);
  return agent;
}

async function stop(agent: RunningAgent): Promise<void> {
  running.splice(running.indexOf(agent), 1);
  await agent.stop();
}

const releaseOf = (agent: RunningAgent) => agent.keeper.target?.apps.app1?.release?.uuid;

function postTarget(agent: RunningAgent, text: string) {
  return fetch(`http://127.0.0.1:${agent.apiPort}/v2/local/target-state`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${API_KEY}` },
    body: text,
  });
}

describe('agent: a pathological target is rejected whole on every path (#9)', () => {
  it('POST /v2/local/target-state: 400 naming the cap; the running release stays, and after a restart too', async () => {
    const cfg = await config();
    const engine = new MemoryEngine();
    const agent = await start(cfg, engine);
    expect((await postTarget(agent, JSON.stringify(device('r1')))).status).toBe(200);
    await waitFor('r1 runs', async () =>
      (await engine.listContainers(UUID)).some((c) => c.status === 'running'),
    );

    const reply = await postTarget(agent, deepDeviceText('r2'));
    expect(reply.status).toBe(400);
    expect(((await reply.json()) as { message: string }).message).toMatch(/nested deeper than 64 levels/);
    expect(releaseOf(agent)).toBe('r1');
    expect(agent.keeper.targetError).toMatch(/nested deeper/);
    expect((await engine.listContainers(UUID)).map((c) => c.releaseUuid)).toEqual(['r1']);

    await stop(agent);
    const again = await start(cfg, engine);
    expect(releaseOf(again)).toBe('r1');
  });

  it('the cloud poll: target_error reports it, the running release stays, and after a restart too', async () => {
    const cloud = await FakeCloud.start();
    clouds.push(cloud);
    let served = { etag: '"e1"', body: JSON.stringify({ [UUID]: device('r1') }) };
    cloud.fallback(`GET /device/v3/${UUID}/state`, () => ({
      status: 200,
      headers: { ETag: served.etag, 'Content-Type': 'application/json' },
      body: served.body,
    }));
    cloud.fallback('PATCH /device/v3/state', { status: 200, body: {} });
    const cfg = await config({
      apiEndpoint: cloud.url,
      deviceApiKey: 'k',
      pollIntervalMs: 1_000,
      reportIntervalMs: 200,
    });
    const engine = new MemoryEngine();
    const agent = await start(cfg, engine);
    await waitFor('r1 accepted', async () => releaseOf(agent) === 'r1');

    served = { etag: '"e2"', body: `{"${UUID}":${deepDeviceText('r2')}}` };
    await waitFor('the deep target rejected', async () => agent.keeper.targetError !== null, 5_000);
    expect(agent.keeper.targetError).toMatch(/nested deeper than 64 levels/);
    expect(releaseOf(agent)).toBe('r1');
    const reported = () =>
      cloud
        .requestsTo('PATCH /device/v3/state')
        .map((r) => (JSON.parse(r.body) as Record<string, { target_error?: string }>)[UUID]?.target_error);
    await waitFor(
      'target_error reported',
      async () => reported().some((e) => /nested deeper/.test(e ?? '')),
      5_000,
    );

    await stop(agent);
    cloud.fallback(`GET /device/v3/${UUID}/state`, { status: 503 });
    const again = await start(cfg, engine);
    expect(releaseOf(again)).toBe('r1');
  });

  it('the preload file: not applied, reported as the target error', async () => {
    const cfg = await config();
    const file = path.join(path.dirname(cfg.dataDir), 'preload.json');
    await fs.writeFile(file, deepDeviceText('r1'));
    const agent = await start({ ...cfg, targetStateFile: file }, new MemoryEngine());
    expect(agent.keeper.target).toBeUndefined();
    expect(agent.keeper.targetError).toMatch(/nested deeper/);
  });
});

describe('agent: a corrupt identity.json (#8)', () => {
  it('starts with the uuid of its containers and still sees them', async () => {
    const cfg = await config({ uuid: '' });
    const engine = new MemoryEngine();
    const first = await start(cfg, engine);
    const uuid = first.identity.uuid;
    await first.keeper.offerLocal(device('r1'));
    await waitFor('r1 runs', async () =>
      (await engine.listContainers(uuid)).some((c) => c.status === 'running'),
    );
    await stop(first);

    await fs.writeFile(path.join(cfg.dataDir, 'identity.json'), '\0\0\0\0 torn by a power cut');
    const second = await start(cfg, engine);
    expect(second.identity.uuid).toBe(uuid);
    expect((await second.view()).apps.map((app) => app.appUuid)).toEqual(['app1']);
  });
});
