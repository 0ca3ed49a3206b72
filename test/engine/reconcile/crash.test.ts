import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DockerEngine } from '../../helpers/shipped-agent.js';
import type { ContainerInfo } from '../../../src/engine/types.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from '../../helpers/docker.js';
import { deviceObject, unique, waitFor } from '../../helpers/agent.js';
import { DEMO_1, DEMO_2 } from '../../helpers/images.js';
import { lockFilesUnder } from '../../helpers/locks.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

// What the bin runs: the bundle `npm run build` ships.
const CLI = SHIPPED_CLI;
const SERVICES = ['alpha', 'beta', 'gamma'];

/** `bosun agent` as a child process, the way a device runs it; its API port read from its log. */
class CliAgent {
  readonly child: ChildProcess;
  readonly port: Promise<number>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [CLI, 'agent'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.port = new Promise((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        this.output += chunk.toString();
        const match = /"port":(\d+)[^\n]*"msg":"local API listening"/.exec(this.output);
        if (match) resolve(Number(match[1]));
      };
      this.child.stdout!.on('data', onData);
      this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
      void this.exited.then(({ code, signal }) =>
        reject(new Error(`agent exited (${code ?? signal}) before listening:\n${this.output.slice(-2000)}`)),
      );
    });
  }

  log(): string {
    return this.output;
  }
}

describe('reconcile (real engine): SIGKILL of the agent in the middle of an update', () => {
  const engine = new DockerEngine({ dockerHost: DOCKER_HOST });
  const uuid = uniqueDeviceUuid();
  let root: string;
  let env: Record<string, string>;
  const agents: CliAgent[] = [];

  beforeAll(async () => {
    await requireEngine(engine);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-crash-'));
    env = {
      BOSUN_DATA_DIR: path.join(root, 'data'),
      BOSUN_LOCK_DIR: path.join(root, 'locks'),
      BOSUN_LISTEN_PORT: '0',
      BOSUN_TARGET_STATE_FILE: path.join(root, 'target.json'),
      BOSUN_UUID: uuid,
      BOSUN_LOG_LEVEL: 'info',
      BOSUN_API_ENDPOINT: '',
    };
  });
  afterAll(async () => {
    for (const a of agents)
      if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    await removeContainersOf(uuid);
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  const containers = () => engine.listContainers(uuid);
  const allRunning = (cs: ContainerInfo[], releaseUuid: string) =>
    cs.length === SERVICES.length && cs.every((c) => c.releaseUuid === releaseUuid && c.status === 'running');

  it('restarts into a converged release 2: no orphans, no duplicates, no agent locks left', async () => {
    const appUuid = unique('app');
    const appId = 8501;
    const r1 = unique('rel');
    // Release 1 runs `sleep` as PID 1, which ignores SIGTERM: each kill takes its full 1 s grace
    // period, a wide window to crash the agent in while it holds the app's locks.
    const release1 = deviceObject({
      appUuid,
      appId,
      releaseUuid: r1,
      releaseId: 1,
      services: Object.fromEntries(
        SERVICES.map((s) => [s, { image: DEMO_1, composition: { command: ['sleep', '3600'] } }]),
      ),
    });
    await fs.writeFile(env.BOSUN_TARGET_STATE_FILE!, JSON.stringify(release1));
    const first = new CliAgent(env);
    agents.push(first);
    const port = await first.port;
    await waitFor('release 1 converged', async () => allRunning(await containers(), r1), 30_000);
    const before = await containers();

    const identity = JSON.parse(
      await fs.readFile(path.join(env.BOSUN_DATA_DIR!, 'identity.json'), 'utf8'),
    ) as {
      apiKey: string;
    };
    const r2 = unique('rel');
    const release2 = deviceObject({
      appUuid,
      appId,
      releaseUuid: r2,
      releaseId: 2,
      services: Object.fromEntries(SERVICES.map((s) => [s, { image: DEMO_2 }])),
    });
    const posted = await fetch(`http://127.0.0.1:${port}/v2/local/target-state`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${identity.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(release2),
    });
    expect(posted.status).toBe(200);

    // Crash as soon as the update has visibly begun: an old container stopped or gone, or a new one made.
    const midUpdate = await waitFor(
      'the update to begin',
      async () => {
        const cs = await containers();
        const oldAlive = before.filter((o) => cs.some((c) => c.id === o.id && c.status === 'running'));
        return oldAlive.length < before.length || cs.some((c) => c.releaseUuid === r2) ? cs : undefined;
      },
      20_000,
      5,
    );
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    // It really died mid-update: release 2 was not complete yet.
    expect(allRunning(midUpdate, r2)).toBe(false);
    const lockedAtCrash = await lockFilesUnder(env.BOSUN_LOCK_DIR!);

    const second = new CliAgent(env);
    agents.push(second);
    await second.port;
    await waitFor(
      'release 2 converged after the restart',
      async () => allRunning(await containers(), r2),
      30_000,
    ).catch(async (err: Error) => {
      const state = (await containers()).map((c) => `${c.name} ${c.status}`).join('\n');
      throw new Error(`${err.message}\ncontainers:\n${state}\nagent log:\n${second.log().slice(-4000)}`);
    });
    // Give it a few more passes: nothing may be created, duplicated or left behind later.
    await new Promise((r) => setTimeout(r, 1500));
    const after = await containers();
    expect(allRunning(after, r2)).toBe(true);
    expect(after.map((c) => c.serviceName).sort()).toEqual(SERVICES);
    expect(new Set(after.map((c) => c.name)).size).toBe(SERVICES.length);
    expect(after.some((c) => before.some((o) => o.id === c.id))).toBe(false);
    // Nothing of release 1 left, not even stopped.
    const leftovers = (await containers()).filter((c) => c.releaseUuid !== r2);
    expect(leftovers).toEqual([]);
    expect(await lockFilesUnder(env.BOSUN_LOCK_DIR!)).toEqual([]);
    expect(await lockFilesUnder(path.join(env.BOSUN_DATA_DIR!, 'apps'))).toEqual([]);
    // The killed agent held the app's locks (it was between its kills and its creates); the new
    // one recognised them as its own and removed them rather than waiting on them.
    expect(lockedAtCrash.length).toBeGreaterThan(0);
    expect(second.log()).toContain('removed update locks left by an earlier run');

    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  });

  it('SIGKILL mid-probation and mid-rollback: the next start still rolls back, and never re-applies the failed release', async () => {
    const appUuid = unique('app');
    const appId = 8502;
    const [r1, r2] = [unique('rel'), unique('rel')];
    const probationEnv = { ...env, BOSUN_UPDATE_PROBATION: '30s' };
    const release = (releaseUuid: string, releaseId: number, service: Record<string, unknown>) =>
      deviceObject({ appUuid, appId, releaseUuid, releaseId, services: { main: service as never } });
    await fs.writeFile(env.BOSUN_TARGET_STATE_FILE!, JSON.stringify(release(r1, 1, { image: DEMO_1 })));
    const first = new CliAgent(probationEnv);
    agents.push(first);
    await first.port;
    const onRelease = (releaseUuid: string) => async () => {
      const cs = (await containers()).filter((c) => c.appUuid === appUuid);
      return cs.length === 1 && cs[0]!.releaseUuid === releaseUuid && cs[0]!.status === 'running';
    };
    await waitFor('release 1 running', onRelease(r1), 30_000);
    // Release 2 crashes 2 s after it starts: kill the agent while it is on probation, before that.
    const crashing = {
      image: DEMO_2,
      composition: { command: ['sh', '-c', 'sleep 2; exit 1'], restart: 'no' },
    };
    await fs.writeFile(env.BOSUN_TARGET_STATE_FILE!, JSON.stringify(release(r2, 2, crashing)));
    first.child.kill('SIGTERM');
    await first.exited;
    const second = new CliAgent(probationEnv);
    agents.push(second);
    await second.port;
    await waitFor('release 2 running, on probation', onRelease(r2), 30_000);
    await waitFor('probation recorded', async () =>
      (await fs.readFile(path.join(env.BOSUN_DATA_DIR!, 'release-history.json'), 'utf8')).includes(
        '"probationEndsAt"',
      ),
    );
    second.child.kill('SIGKILL');
    await second.exited;
    // The release crashes while no agent runs; the next one sees it from its persisted probation.
    await waitFor('release 2 exited 1', async () => {
      const [c] = (await containers()).filter((x) => x.appUuid === appUuid);
      return c?.status === 'exited' && c.exitCode === 1;
    });
    const third = new CliAgent(probationEnv);
    agents.push(third);
    await third.port;
    // Kill it again as soon as the rollback has begun (release 2's container stopped or removed).
    await waitFor(
      'the rollback to begin',
      async () =>
        !(await containers()).some(
          (c) => c.appUuid === appUuid && c.releaseUuid === r2 && c.status === 'exited',
        ),
      30_000,
      5,
    );
    third.child.kill('SIGKILL');
    await third.exited;
    const fourth = new CliAgent(probationEnv);
    agents.push(fourth);
    const port = await fourth.port;
    await waitFor('back on release 1', onRelease(r1), 30_000);
    const identity = JSON.parse(
      await fs.readFile(path.join(env.BOSUN_DATA_DIR!, 'identity.json'), 'utf8'),
    ) as {
      apiKey: string;
    };
    const state = (await (
      await fetch(`http://127.0.0.1:${port}/v2/applications/state`, {
        headers: { Authorization: `Bearer ${identity.apiKey}` },
      })
    ).json()) as Record<string, { updateStatus: string; rollbackReason?: string; targetCommit: string }>;
    expect(Object.values(state)[0]).toMatchObject({
      targetCommit: r2,
      updateStatus: 'rolled back',
      rollbackReason: 'service main exited with code 1',
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await onRelease(r1)()).toBe(true); // release 2 is not applied again
    fourth.child.kill('SIGTERM');
    expect(await fourth.exited).toEqual({ code: 0, signal: null });
  });
});
