/**
 * End to end, real parts only: `bosun fleet serve` and `bosun agent` as child processes of the
 * compiled CLI, the real Docker engine, images from the local registry, the fleet CLI as the
 * manager runs it, and an update lock taken inside the real container with its own `lock` tool.
 * Needs `npm run build` first (the test command builds before jest).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { DeviceView } from '../../../src/fleet/api-types.js';
import { FleetClient } from '../../../src/fleet/client.js';
import { DockerEngine } from '../../helpers/shipped-agent.js';
import type { ContainerInfo } from '../../../src/engine/types.js';
import { waitFor } from '../../helpers/agent.js';
import { dockerExec } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from '../../helpers/docker.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

const run = promisify(execFile);
// What the bin runs: the bundle `npm run build` ships.
const CLI = SHIPPED_CLI;
const TOKEN = 'e2e-manager-token';
const FLEET = 'e2e';

/** A child process with everything it wrote kept, for the failure message. */
interface Child {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startChild(args: string[], env: NodeJS.ProcessEnv): Child {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { process: child, output: () => output, exited };
}

/** SIGTERM, then the exit code (SIGKILL after 10 s, and null). */
async function stopChild(child: Child | undefined): Promise<number | null> {
  if (!child || child.process.exitCode !== null) return child?.process.exitCode ?? null;
  child.process.kill('SIGTERM');
  const timer = new AbortController();
  const code = await Promise.race([
    child.exited,
    sleep(10_000, 'timeout' as const, { signal: timer.signal }).catch(() => 'cancelled' as const),
  ]);
  timer.abort();
  if (code !== 'timeout') return code as number | null;
  child.process.kill('SIGKILL');
  await child.exited;
  return null;
}

describe('e2e: fleet backend, fleet CLI and one agent on the real engine', () => {
  const uuid = uniqueDeviceUuid();
  const engine = new DockerEngine({ dockerHost: DOCKER_HOST });
  let root: string;
  let backend: Child | undefined;
  let agent: Child | undefined;
  let url: string;
  let client: FleetClient;

  /** `bosun fleet <args>` as a manager types it, against the backend under test. */
  const fleetCli = async (...args: string[]) => {
    const { stdout } = await run(process.execPath, [CLI, 'fleet', ...args, '--url', url, '--token', TOKEN], {
      timeout: 30_000,
    });
    return stdout;
  };

  const composeFile = async (name: string, image: string) => {
    const file = path.join(root, name);
    await fs.writeFile(
      file,
      [
        'services:',
        '  main:',
        `    image: ${image}`,
        '    network_mode: none',
        '    stop_grace_period: 1s',
        '',
      ].join('\n'),
    );
    return file;
  };

  const deviceView = async (): Promise<DeviceView | undefined> =>
    (await client.listDevices(FLEET)).find((d) => d.uuid === uuid);

  const running = async (): Promise<ContainerInfo[]> =>
    (await engine.listContainers(uuid)).filter((c) => c.status === 'running');

  /** Runs the locker image's own lock tool inside the container, as a device app would. */
  const lockTool = async (containerId: string, verb: 'take' | 'release') => {
    return (await dockerExec(containerId, ['lock', verb], 30_000)).trim();
  };

  const context = () =>
    `\n--- agent output ---\n${agent?.output().slice(-4000)}\n--- backend output ---\n${backend?.output().slice(-2000)}`;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build before this test`);
    await requireEngine(engine);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-e2e-'));
    backend = startChild(
      [
        'fleet',
        'serve',
        '--port',
        '0',
        '--address',
        '127.0.0.1',
        '--db',
        path.join(root, 'fleet.db'),
        '--token',
        TOKEN,
      ],
      { ...process.env, BOSUN_LOG_LEVEL: 'warn' },
    );
    const listening = await waitFor(
      'the fleet backend to listen',
      () => /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(backend!.output())?.[1],
      15_000,
      50,
    );
    url = listening;
    client = new FleetClient({ url, token: TOKEN });
  }, 30_000);

  afterAll(async () => {
    await stopChild(agent);
    await stopChild(backend);
    await removeContainersOf(uuid);
    if (root) await fs.rm(root, { recursive: true, force: true });
  }, 30_000);

  it('rolls out, holds the update while the app locks, and applies it once the lock is released', async () => {
    const created = JSON.parse(await fleetCli('create', FLEET, '--json')) as { provisioningKey: string };
    const first = JSON.parse(
      await fleetCli('push', FLEET, await composeFile('release-1.yml', LOCKER_1), '--json'),
    ) as { commit: string };

    agent = startChild(['agent'], {
      ...process.env,
      BOSUN_API_ENDPOINT: url,
      BOSUN_PROVISIONING_KEY: created.provisioningKey,
      BOSUN_FLEET: FLEET,
      BOSUN_UUID: uuid,
      BOSUN_DATA_DIR: path.join(root, 'data'),
      BOSUN_LOCK_DIR: path.join(root, 'locks'),
      BOSUN_LISTEN_PORT: '0',
      BOSUN_POLL_INTERVAL_MS: '1000',
      BOSUN_REPORT_INTERVAL_MS: '500',
      BOSUN_LOG_LEVEL: 'info',
      DOCKER_HOST,
    });

    // Release 1 runs and the backend hears it is done.
    await waitFor(
      'release 1 reported done',
      async () => {
        const view = await deviceView();
        return view?.reportedRelease === first.commit && view.updateStatus === 'done';
      },
      60_000,
      250,
    ).catch((err: Error) => Promise.reject(new Error(err.message + context())));
    const [old] = await running();
    expect(old).toMatchObject({ releaseUuid: first.commit, image: LOCKER_1 });

    // The app takes its update lock inside its container; the fleet manager sees it.
    expect(await lockTool(old!.id, 'take')).toBe('locked /tmp/balena/updates.lock');
    await waitFor(
      'the lock in the device report',
      async () => (await deviceView())?.updateLocks.length === 1,
      15_000,
      250,
    );
    const table = await fleetCli('devices', '--fleet', FLEET);
    const row = table.split('\n').find((line) => line.startsWith(uuid));
    expect(row).toMatch(/\smain:\/tmp\/balena\/updates\.lock since \d+s ago\s/);

    // The next release downloads, and waits on the lock.
    const second = JSON.parse(
      await fleetCli('push', FLEET, await composeFile('release-2.yml', LOCKER_2), '--json'),
    ) as { commit: string };
    await waitFor(
      'release 2 reported locked',
      async () => {
        const view = await deviceView();
        return view?.targetRelease?.commit === second.commit && view.updateStatus === 'locked';
      },
      30_000,
      250,
    ).catch((err: Error) => Promise.reject(new Error(err.message + context())));
    // Downloads never wait for a lock. (The progress column shows 100% after a real download and
    // "-" when the image was on the engine already, as locker:2 may be from other tests.)
    expect(await engine.hasImage(LOCKER_2)).toBe(true);
    const lockedTable = await fleetCli('devices', '--fleet', FLEET);
    expect(lockedTable.split('\n').find((line) => line.startsWith(uuid))).toMatch(
      new RegExp(
        `${first.commit.slice(0, 7)} -> ${second.commit.slice(0, 7)}\\s+locked\\s+(100%|-)\\s+main:/tmp/balena/updates\\.lock since`,
      ),
    );
    await sleep(3_000); // polls and passes go by; nothing may touch the locked app
    expect((await running()).map((c) => [c.id, c.releaseUuid])).toEqual([[old!.id, first.commit]]);
    expect(await deviceView()).toMatchObject({ reportedRelease: first.commit, updateStatus: 'locked' });

    // The app releases its lock: the update goes through at once.
    expect(await lockTool(old!.id, 'release')).toBe('released /tmp/balena/updates.lock');
    const released = Date.now();
    const [current] = await waitFor(
      'release 2 running alone',
      async () => {
        const containers = await engine.listContainers(uuid);
        return containers.length === 1 &&
          containers[0]!.status === 'running' &&
          containers[0]!.releaseUuid === second.commit
          ? containers
          : undefined;
      },
      30_000,
      100,
    ).catch((err: Error) => Promise.reject(new Error(err.message + context())));
    expect(Date.now() - released).toBeLessThan(10_000);
    expect(current).toMatchObject({ image: LOCKER_2 });
    await waitFor(
      'release 2 reported done',
      async () => {
        const view = await deviceView();
        return (
          view?.reportedRelease === second.commit &&
          view.updateStatus === 'done' &&
          view.updateLocks.length === 0
        );
      },
      15_000,
      250,
    );

    // SIGTERM stops the agent cleanly (exit 0) and leaves the app running.
    expect(await stopChild(agent)).toBe(0);
    expect((await running()).map((c) => c.id)).toEqual([current!.id]);
  });
});
