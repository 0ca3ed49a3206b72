import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, promises as fs } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DockerEngine } from '../../helpers/shipped-agent.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from '../../helpers/docker.js';
import { deviceObject, unique, waitFor } from '../../helpers/agent.js';
import { devices } from '../../helpers/apps.js';
import {
  releaseContainers,
  releaseLockInside,
  takeLockInside,
  type ContainerSource,
} from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { hostLockPath, lockHolder, pathExists } from '../../helpers/locks.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

// What the bin runs: the bundle `npm run build` ships.
const CLI = SHIPPED_CLI;
const API_KEY = 'locks-crash-key';

/** The app the agent is stopping when it is killed: its process ignores TERM for the whole grace period. */
const SLOW_STOP = {
  command: ['sh', '-c', "trap '' TERM; while true; do sleep 1; done"],
  stop_grace_period: '3s',
};

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The real `bosun agent` as a child process, with its own data and lock dirs; output to a log file. */
class CliAgent {
  child: ChildProcess | undefined;
  readonly dataDir: string;
  readonly lockDir: string;
  readonly uuid = uniqueDeviceUuid();

  constructor(
    readonly root: string,
    readonly port: number,
  ) {
    this.dataDir = path.join(root, 'data');
    this.lockDir = path.join(root, 'locks');
  }

  async start(): Promise<void> {
    const out = openSync(path.join(this.root, 'agent.log'), 'a');
    this.child = spawn(process.execPath, [CLI, 'agent'], {
      env: {
        PATH: process.env.PATH,
        BOSUN_DATA_DIR: this.dataDir,
        BOSUN_LOCK_DIR: this.lockDir,
        BOSUN_UUID: this.uuid,
        BOSUN_API_KEY: API_KEY,
        BOSUN_LISTEN_PORT: String(this.port),
        BOSUN_LOG_LEVEL: 'debug',
        DOCKER_HOST,
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    await waitFor(
      'the CLI agent API',
      async () => (await this.api('GET', '/ping')).status === 200,
      20_000,
      100,
    );
  }

  async api(method: string, route: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${route}`, {
      method,
      headers: {
        Authorization: `Bearer ${API_KEY}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: text.startsWith('{') ? JSON.parse(text) : text };
  }

  /** Sends a signal and waits for the exit; resolves to the exit code (null when killed by the signal). */
  async signal(sig: NodeJS.Signals): Promise<number | null> {
    const child = this.child!;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(sig);
    return exited;
  }
}

/** The pid in the marker an agent writes into its own lock files, if the file is one. */
async function markerPid(file: string): Promise<number | undefined> {
  const holder = await lockHolder(file);
  return typeof holder === 'number' ? holder : undefined;
}

describe('locks (real CLI): SIGKILL while the agent holds its own locks', () => {
  let agent: CliAgent | undefined;
  afterAll(async () => {
    if (!agent) return;
    await agent.signal('SIGKILL');
    await removeContainersOf(agent.uuid);
    await fs.rm(agent.root, { recursive: true, force: true });
  });

  it("after a restart the killed agent's files neither block nor linger; a user lock stays and holds", async () => {
    expect(existsSync(CLI)).toBe(true); // run `npm run build` first
    const engine = new DockerEngine({ dockerHost: DOCKER_HOST });
    await requireEngine(engine);
    agent = new CliAgent(await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-locks-crash-')), await freePort());
    const a = agent;
    const slow = { appUuid: unique('app'), appId: 8401 };
    const held = { appUuid: unique('app'), appId: 8402 };
    const target = (rel: string, releaseId: number, image: string) =>
      devices([
        deviceObject({
          ...slow,
          releaseUuid: `${rel}s`,
          releaseId,
          services: { main: { image, composition: SLOW_STOP } },
        }),
        deviceObject({ ...held, releaseUuid: `${rel}h`, releaseId, services: { main: { image } } }),
      ]);
    const device: ContainerSource = { containers: () => engine.listContainers(a.uuid) };
    const running = async (appUuid: string, releaseUuid: string) =>
      (await releaseContainers(device, appUuid, releaseUuid))?.main;

    await a.start();
    const r1 = unique('rel');
    expect((await a.api('POST', '/v2/local/target-state', target(r1, 1, LOCKER_1))).status).toBe(200);
    await waitFor('release 1 of the slow app', () => running(slow.appUuid, `${r1}s`));
    const heldOld = await waitFor('release 1 of the held app', () => running(held.appUuid, `${r1}h`));
    await takeLockInside(heldOld.id);
    const userLock = hostLockPath(a, held.appId, 'main', 'balena');

    // Release 2: the agent locks the slow app and spends its grace period stopping it.
    const r2 = unique('rel');
    expect((await a.api('POST', '/v2/local/target-state', target(r2, 2, LOCKER_2))).status).toBe(200);
    const slowPaths = (['balena', 'resin', 'data'] as const).map((k) =>
      hostLockPath(a, slow.appId, 'main', k),
    );
    const firstPid = a.child!.pid!;
    await waitFor(
      'the agent holding the slow app’s locks',
      async () => (await Promise.all(slowPaths.map(markerPid))).every((pid) => pid === firstPid),
      15_000,
      20,
    );
    expect(await a.signal('SIGKILL')).toBeNull();
    // Killed mid-hold: its markers are still there, and so is the user's lock.
    expect(await Promise.all(slowPaths.map(markerPid))).toEqual([firstPid, firstPid, firstPid]);
    expect(await pathExists(userLock)).toBe(true);

    await a.start();
    // Stale markers are gone before the API answers; any marker now is the new agent's own.
    for (const file of slowPaths) expect([undefined, a.child!.pid]).toContain(await markerPid(file));
    await waitFor(
      'release 2 of the slow app after the restart',
      () => running(slow.appUuid, `${r2}s`),
      20_000,
    );
    await waitFor(
      "the agent's lock files cleaned up",
      async () => (await Promise.all(slowPaths.map(pathExists))).every((present) => !present),
      5_000,
      20,
    );

    // The user's lock survived the crash and the restart, and still holds its app back.
    expect(await fs.readFile(userLock, 'utf8')).toBe('');
    const state = await a.api('GET', '/v2/applications/state');
    const heldState = Object.values(
      state.body as Record<string, { appUuid: string; updateStatus: string }>,
    ).find((s) => s.appUuid === held.appUuid);
    expect(heldState?.updateStatus).toBe('locked');
    expect((await running(held.appUuid, `${r1}h`))?.id).toBe(heldOld.id);

    await releaseLockInside(heldOld.id);
    await waitFor('release 2 of the held app once unlocked', () => running(held.appUuid, `${r2}h`), 15_000);
    expect(await a.signal('SIGTERM')).toBe(0);
  }, 90_000);
});
