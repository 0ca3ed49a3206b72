/**
 * GET /v2/local/logs on a real agent (local mode, in-memory engine): the recent lines, then each
 * new one, as NDJSON; the agent's own update events among them; and a stop that does not wait
 * for the client to go.
 */
import { promises as fs } from 'node:fs';
import { afterEach, describe, expect, it } from '@jest/globals';
import { startAgent, type RunningAgent } from '../../../src/agent/start-agent.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import type { LogWireLine } from '../../../src/logs/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { rawApi } from '../../helpers/raw-api.js';
import { deviceObject } from '../../helpers/targets.js';
import { waitFor } from '../../helpers/wait.js';
import { tempAgentConfig } from '../../helpers/agent-config.js';

const UUID = 'locallogs00000000000000000000001';
const KEY = 'local-logs-api-key';

let agent: RunningAgent | undefined;
let root: string | undefined;
afterEach(async () => {
  await agent?.stop();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

/** Reads an NDJSON response as it comes, line by line. */
async function follow(port: number, signal: AbortSignal) {
  const response = await fetch(`http://127.0.0.1:${port}/v2/local/logs`, {
    headers: { authorization: `Bearer ${KEY}` },
    signal,
  });
  const lines: LogWireLine[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split('\n');
      pending = parts.pop()!;
      for (const part of parts) if (part !== '') lines.push(JSON.parse(part) as LogWireLine);
    }
  })().catch((err: Error) => {
    if (!signal.aborted) throw err;
  });
  return { response, lines, reading };
}

describe('api: GET /v2/local/logs', () => {
  it('streams recent lines then live ones, service output and update events, as NDJSON', async () => {
    const config = await tempAgentConfig('bosun-local-logs-', {
      uuid: UUID,
      apiKey: KEY,
      updateProbation: '60s',
    });
    root = config.root;
    const engine = new MemoryEngine();
    agent = await startAgent(config, {
      engine,
      log: silentLogger(),
      loop: { fallbackPollMs: 200, resyncMs: 500 },
    });
    const offered = await agent.keeper.offerLocal(
      deviceObject({
        appUuid: 'logapp',
        appId: 91,
        releaseUuid: 'release0001',
        releaseId: 1,
        services: { main: { image: 'reg/main:1' } },
      }),
    );
    expect(offered).toEqual({ accepted: true });
    const [main] = await waitFor('main running', async () => {
      const running = (await engine.listContainers(UUID)).filter((c) => c.status === 'running');
      return running.length === 1 ? running : undefined;
    });
    await waitFor('main followed', () => engine.logFollowers(main!.id) === 1);
    engine.simulateLog(main!.id, 'before the client');

    expect((await rawApi(agent.apiPort, 'GET', '/v2/local/logs')).status).toBe(401);
    const abort = new AbortController();
    const client = await follow(agent.apiPort, abort.signal);
    expect(client.response.status).toBe(200);
    expect(client.response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    engine.simulateLog(main!.id, 'live', 'stderr');
    await waitFor('the live line', () => client.lines.some((l) => l.message === 'live'));
    expect(client.lines.filter((l) => !l.isSystem)).toEqual([
      { message: 'before the client', timestamp: expect.any(Number), serviceName: 'main' },
      { message: 'live', timestamp: expect.any(Number), serviceName: 'main', isStderr: true },
    ]);
    expect(client.lines.filter((l) => l.isSystem).map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^Updating .* to release releas/)]),
    );

    // Stopping the agent ends the stream rather than waiting for the client to leave.
    const stopping = Date.now();
    await agent.stop();
    agent = undefined;
    await client.reading;
    expect(Date.now() - stopping).toBeLessThan(5_000);
    abort.abort();
  });
});
