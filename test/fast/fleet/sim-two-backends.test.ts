/**
 * Two fleet backend processes on one PostgreSQL database serve one simulated fleet, half the
 * devices polling and reporting to each (contract section 12): a push through one reaches every
 * device, both backends see every device's reports, and a pin through one holds on the other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FleetClient } from '../../../src/fleet/client.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { ScratchDatabases } from '../../../scripts/bench/scratch-databases.js';
import { startSimDevices, type SimDevice } from '../../../scripts/bench/sim-device.js';
import { composeYaml } from '../../helpers/fleet-sim.js';
import { waitFor } from '../../helpers/wait.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

// What the bin runs: the bundle `npm run build` ships.
const CLI = SHIPPED_CLI;
const TOKEN = 'two-backends-token';
const DEVICES = 20;

/** A free TCP port on 127.0.0.1 (the child backend is told to listen on it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('simulated fleet: two backend processes on one PostgreSQL database', () => {
  const databases = new ScratchDatabases('postgres');
  let root: string;
  let inProcess: FleetServer;
  let child: ChildProcess;
  let childUrl: string;
  let devices: SimDevice[] = [];
  let viaFirst: FleetClient;
  let viaSecond: FleetClient;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-two-backends-'));
    const database = await databases.fresh();
    inProcess = await startFleetServer({ port: 0, address: '127.0.0.1', database, token: TOKEN });
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        CLI,
        'fleet',
        'serve',
        '--database',
        database,
        '--port',
        String(port),
        '--address',
        '127.0.0.1',
        '--token',
        TOKEN,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BOSUN_LOG_LEVEL: 'warn' } },
    );
    childUrl = `http://127.0.0.1:${port}`;
    viaFirst = new FleetClient({ url: inProcess.url, token: TOKEN });
    viaSecond = new FleetClient({ url: childUrl, token: TOKEN });
    await waitFor('the second backend answering', () => viaSecond.listFleets().then(() => true), 20_000, 100);
    const created = await viaFirst.createFleet('pair');
    devices = await startSimDevices(DEVICES, 10, (index) => ({
      root: path.join(root, 'devices'),
      index,
      // Half the fleet polls and reports to each backend.
      apiEndpoint: index % 2 === 0 ? inProcess.url : childUrl,
      fleet: 'pair',
      provisioningKey: created.provisioningKey,
      pullDelayMs: 50,
      pollIntervalMs: 1_000,
      reportIntervalMs: 300,
    }));
  }, 60_000);

  afterAll(async () => {
    await Promise.allSettled(devices.map((d) => d.stop()));
    child?.kill('SIGTERM');
    await inProcess?.close();
    await databases.dispose();
    if (root) await fs.rm(root, { recursive: true, force: true });
  }, 60_000);

  /** Every device as one backend lists it, once all report `release` done. */
  const allDone = (client: FleetClient, commit: string) =>
    waitFor(
      `every device done on ${commit.slice(0, 7)}`,
      async () => {
        const list = await client.listDevices('pair');
        return list.length === DEVICES &&
          list.every((d) => d.reportedRelease === commit && d.updateStatus === 'done')
          ? list
          : undefined;
      },
      30_000,
      200,
    );

  it('a push through one backend reaches every device; both see every report; a pin holds on the other', async () => {
    const first = await viaSecond.pushRelease('pair', composeYaml({ main: 'sim/pair:1' }));
    const seenByFirst = await allDone(viaFirst, first.commit);
    const seenBySecond = await allDone(viaSecond, first.commit);
    expect(seenBySecond.map((d) => d.uuid).sort()).toEqual(seenByFirst.map((d) => d.uuid).sort());

    const pinned = devices[1]!.uuid; // one that polls the second backend
    await viaFirst.pin(pinned, first.commit);
    const second = await viaFirst.pushRelease('pair', composeYaml({ main: 'sim/pair:2' }));
    await waitFor(
      'all but the pinned device on release 2',
      async () => {
        const list = await viaSecond.listDevices('pair');
        const others = list.filter((d) => d.uuid !== pinned);
        return others.every((d) => d.reportedRelease === second.commit && d.updateStatus === 'done');
      },
      30_000,
      200,
    );
    const pinnedView = (await viaSecond.listDevices('pair')).find((d) => d.uuid === pinned);
    expect(pinnedView).toMatchObject({ reportedRelease: first.commit, pinned: true });
  }, 90_000);
});
