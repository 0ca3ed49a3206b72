/**
 * Device logs end to end on real parts: the fleet backend on 127.0.0.1 (SQLite), a managed agent
 * on the real Docker engine running busybox services that print to stdout and stderr, and
 * `bosun fleet logs` (the compiled CLI) reading what was shipped. Then an agent restart: every
 * line is stored exactly once. Needs `npm run build` first (for the CLI).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { DeviceLogEntry } from '../../../src/fleet/api-types.js';
import { FleetClient } from '../../../src/fleet/client.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { startTestAgent, waitFor, type TestAgent } from '../../helpers/agent.js';
import { shellIn } from '../../helpers/containers.js';
import { DEMO_1 } from '../../helpers/images.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

const run = promisify(execFile);
// What the bin runs: the bundle `npm run build` ships.
const CLI = SHIPPED_CLI;
const TOKEN = 'logs-e2e-manager-token';
const FLEET = 'logs-e2e';

const COMPOSE = `
services:
  main:
    image: ${DEMO_1}
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done; exec sleep 3600"]
  ticker:
    image: ${DEMO_1}
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done"]
`;

describe('e2e: service output reaches bosun fleet logs (real engine, real backend)', () => {
  let root: string;
  let server: FleetServer;
  let client: FleetClient;
  let t: TestAgent | undefined;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build before this test`);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-logs-e2e-'));
    server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      database: path.join(root, 'fleet.db'),
      token: TOKEN,
    });
    client = new FleetClient({ url: server.url, token: TOKEN });
  });

  afterAll(async () => {
    await t?.cleanup();
    await server?.close();
    if (root) await fs.rm(root, { recursive: true, force: true });
  }, 30_000);

  const fleetLogs = async (...args: string[]) =>
    (await run(process.execPath, [CLI, 'fleet', 'logs', ...args, '--url', server.url, '--token', TOKEN]))
      .stdout;

  const stored = async (uuid: string): Promise<DeviceLogEntry[]> =>
    (await client.deviceLogs(uuid, { tail: 10_000 })).lines;

  /** The numbers of the ticker's lines as stored, in order. */
  const ticks = (lines: DeviceLogEntry[]) =>
    lines.filter((l) => l.serviceName === 'ticker').map((l) => Number(/^tick(\d+)$/.exec(l.message)?.[1]));

  it('ships stdout and stderr lines in order, with service names, and none twice after a restart', async () => {
    const { provisioningKey } = await client.createFleet(FLEET);
    const release = await client.pushRelease(FLEET, COMPOSE);
    t = await startTestAgent({
      config: {
        apiEndpoint: server.url,
        provisioningKey,
        fleet: FLEET,
        pollIntervalMs: 1000,
        reportIntervalMs: 500,
      },
      agent: { logShipping: { gatherMs: 100, backoff: { baseMs: 200, capMs: 1000 } } },
    });
    const uuid = t.uuid;

    // The main service's six lines reach the backend, each stream in order.
    const mainLines = await waitFor(
      'the main service lines stored',
      async () => {
        const lines = (await stored(uuid)).filter((l) => l.serviceName === 'main');
        return lines.length >= 6 ? lines : undefined;
      },
      60_000,
      250,
    ).catch(async (err: Error) => {
      const lines = await stored(uuid);
      throw new Error(
        `${err.message}; stored: ${JSON.stringify(lines.filter((l) => l.serviceName !== 'ticker'))} and ${lines.length - lines.filter((l) => l.serviceName !== 'ticker').length} ticks`,
      );
    });
    expect(mainLines.filter((l) => !l.isStderr).map((l) => l.message)).toEqual(['out1', 'out2', 'out3']);
    expect(mainLines.filter((l) => l.isStderr).map((l) => l.message)).toEqual(['err1', 'err2', 'err3']);

    // What a manager sees: the CLI, by a prefix of the uuid, oldest first.
    const text = await fleetLogs(uuid.slice(0, 10), '--service', 'main');
    expect(text.split('\n').filter(Boolean)).toEqual(
      ['out1', 'err1', 'out2', 'err2', 'out3', 'err3']
        .filter((m) => mainLines.some((l) => l.message === m))
        .sort(
          (a, b) => mainLines.findIndex((l) => l.message === a) - mainLines.findIndex((l) => l.message === b),
        )
        .map((m) => expect.stringMatching(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\[main\\] ${m}$`))),
    );
    const json = (await fleetLogs(uuid, '--json', '--tail', '10000'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(json.find((l) => l.message === 'err2')).toEqual({
      timestamp: expect.any(Number),
      serviceName: 'main',
      isStderr: true,
      isSystem: false,
      message: 'err2',
    });
    expect(json.filter((l) => l.isSystem).map((l) => l.message)).toEqual(
      expect.arrayContaining([`Updating ${FLEET} to release ${release.commit.slice(0, 7)}`]),
    );

    // An agent restart while the ticker keeps printing: every tick once, none missing.
    await waitFor('ticks stored', async () => ticks(await stored(uuid)).length >= 5, 30_000, 250);
    await t.restart();
    const beforeRestart = ticks(await stored(uuid)).at(-1)!;
    await waitFor(
      'ticks after the restart',
      async () => (ticks(await stored(uuid)).at(-1) ?? 0) > beforeRestart + 20,
      30_000,
      250,
    );
    const all = ticks(await stored(uuid));
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect((await stored(uuid)).filter((l) => l.message === 'out1')).toHaveLength(1);

    // A line written into the service's output from outside reaches a follower of the CLI.
    const follower = spawn(
      process.execPath,
      [
        CLI,
        'fleet',
        'logs',
        uuid,
        '--follow',
        '--service',
        'main',
        '--tail',
        '1',
        '--url',
        server.url,
        '--token',
        TOKEN,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let followed = '';
    follower.stdout!.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    try {
      await waitFor('the follower printing the last line', () => followed.includes('[main]'), 15_000, 50);
      const [main] = (await t.containers()).filter((c) => c.serviceName === 'main');
      await shellIn(main!.id, 'echo followed-line > /proc/1/fd/1');
      await waitFor('the followed line', () => followed.includes('[main] followed-line'), 15_000, 50);
    } finally {
      follower.kill('SIGTERM');
    }
  }, 120_000);
});
