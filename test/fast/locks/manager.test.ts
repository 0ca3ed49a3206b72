import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LockManager, type LockSubject } from '../../../src/locks/lock-manager.js';
import { appLockPaths, type LockLayout } from '../../../src/locks/paths.js';
import { silentLogger } from '../../../src/util/logger.js';

const DEVICE = 'device0000000000000000000000000a';
const OTHER_DEVICE = 'device0000000000000000000000000b';

const subject: LockSubject = { appUuid: 'app-1', appId: 11, serviceNames: ['main', 'worker'] };

let root: string;
let layout: LockLayout;
let manager: LockManager;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-lock-unit-'));
  layout = { lockDir: path.join(root, 'locks'), dataDir: path.join(root, 'data') };
  manager = new LockManager(layout, DEVICE, silentLogger());
});

afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Host paths of the subject, in appLockPaths order (main x2, worker x2, then /data). */
function hostPaths(s: LockSubject = subject): string[] {
  return appLockPaths(layout, s.appId, s.serviceNames).map((p) => p.hostPath);
}

/** Every file left in the app's lock dirs and /data dir (agent temp files included). */
async function filesUnder(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of new Set(hostPaths().map((p) => path.dirname(p)))) {
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) out.push(path.join(dir, name));
  }
  return out.sort();
}

async function userFile(file: string, text = ''): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, text, { flag: 'wx' });
}

/** What an agent that was killed would have left: a marker of `deviceUuid`, as the manager writes it. */
async function agentMarker(file: string, deviceUuid: string): Promise<void> {
  await userFile(
    file,
    JSON.stringify({ holder: 'bosun-agent', deviceUuid, pid: 999_999, since: new Date().toISOString() }),
  );
}

describe('locks/manager: what counts as a user lock', () => {
  const kinds: Array<[string, (file: string) => Promise<void>]> = [
    ['an empty file', (file) => userFile(file)],
    ['a file with text', (file) => userFile(file, 'held by the app\n')],
    ['a directory', (file) => fs.mkdir(file, { recursive: true }).then(() => undefined)],
    [
      'a symlink to a file',
      async (file) => {
        const target = path.join(root, 'symlink-target');
        await fs.writeFile(target, 'x');
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.symlink(target, file);
      },
    ],
    [
      'a dangling symlink',
      async (file) => {
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.symlink(path.join(root, 'nowhere', 'gone'), file);
      },
    ],
  ];

  for (const [kind, make] of kinds) {
    for (const index of [0, 1, 4]) {
      it(`${kind} at ${['updates.lock', 'resin-updates.lock', '', '', '/data/resin-updates.lock'][index]} locks the app`, async () => {
        const file = hostPaths()[index]!;
        await make(file);
        const facts = await manager.scan(subject);
        expect(facts.userLocks.map((l) => l.hostPath)).toEqual([file]);
        expect(facts.userLocks[0]!.holder).toBe('app');
        expect(facts.agentHolds).toBe(false);
        const result = await manager.take(subject, { override: false, reason: 'test' });
        expect(result).toEqual({ ok: false, blockers: [expect.objectContaining({ hostPath: file })] });
      });
    }
  }

  it('reports the path as the container sees it', async () => {
    const [balena, resin, , , data] = hostPaths();
    await userFile(balena!);
    await userFile(resin!);
    await userFile(data!);
    const facts = await manager.scan(subject);
    expect(facts.userLocks.map((l) => [l.serviceName, l.path])).toEqual([
      ['main', '/tmp/balena/updates.lock'],
      ['main', '/tmp/resin/resin-updates.lock'],
      [undefined, '/data/resin-updates.lock'],
    ]);
  });

  it('a marker of another device uuid is a user lock', async () => {
    await agentMarker(hostPaths()[0]!, OTHER_DEVICE);
    expect((await manager.scan(subject)).userLocks).toHaveLength(1);
  });
});

describe('locks/manager: take and release', () => {
  it('a held marker file whose content was rewritten in place is no longer taken for the agent', async () => {
    expect((await manager.take(subject, { override: false, reason: 'test' })).ok).toBe(true);
    expect((await manager.list([subject])).every((l) => l.holder === 'agent')).toBe(true);
    const first = hostPaths()[0]!;
    await fs.writeFile(first, 'rewritten by the app');
    const listed = await manager.list([subject]);
    expect(listed.find((l) => l.hostPath === first)?.holder).toBe('app');
    expect(listed.filter((l) => l.holder === 'agent')).toHaveLength(4);
    await manager.release(subject.appUuid);
    expect(await filesUnder()).toEqual([first]);
  });
  it('takes every path of the app with its marker, and release removes them all', async () => {
    const result = await manager.take(subject, { override: false, reason: 'test' });
    expect(result).toEqual({ ok: true, removedUserLocks: [] });
    for (const file of hostPaths()) {
      const marker = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
      expect(marker).toMatchObject({ holder: 'bosun-agent', deviceUuid: DEVICE, pid: process.pid });
    }
    expect(manager.holds(subject.appUuid)).toBe(true);
    const facts = await manager.scan(subject);
    expect(facts).toEqual({ userLocks: [], agentHolds: true });
    const listed = await manager.list([subject]);
    expect(listed.map((l) => l.holder)).toEqual(['agent', 'agent', 'agent', 'agent', 'agent']);

    await manager.release(subject.appUuid);
    expect(await filesUnder()).toEqual([]);
    expect(manager.holds(subject.appUuid)).toBe(false);
  });

  it('is all-or-nothing: a user lock on the last path rolls back the ones taken before it', async () => {
    const paths = hostPaths();
    const last = paths[paths.length - 1]!;
    await userFile(last, 'app holds /data lock');
    const result = await manager.take(subject, { override: false, reason: 'test' });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.blockers.map((b) => b.hostPath)).toEqual([last]);
    expect(await filesUnder()).toEqual([last]); // no agent marker, no temp file left behind
    expect(await fs.readFile(last, 'utf8')).toBe('app holds /data lock');
    expect(manager.holds(subject.appUuid)).toBe(false);
  });

  it('with override removes user locks (a symlink, not its target), reports them, and takes every path', async () => {
    const [balena, resin, , , data] = hostPaths();
    const target = path.join(root, 'precious');
    await fs.writeFile(target, 'keep me');
    await fs.mkdir(path.dirname(balena!), { recursive: true });
    await fs.symlink(target, balena!);
    await fs.mkdir(resin!, { recursive: true });
    await fs.writeFile(path.join(resin!, 'inside'), 'x');
    await userFile(data!, 'app');

    const result = await manager.take(subject, { override: true, reason: 'test' });
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.removedUserLocks.map((l) => l.path)).toEqual([
        '/tmp/balena/updates.lock',
        '/tmp/resin/resin-updates.lock',
        '/data/resin-updates.lock',
      ]);
      expect(result.removedUserLocks.every((l) => l.holder === 'app')).toBe(true);
    }
    expect(await fs.readFile(target, 'utf8')).toBe('keep me');
    const listed = await manager.list([subject]);
    expect(listed).toHaveLength(5);
    expect(listed.every((l) => l.holder === 'agent')).toBe(true);
  });

  it('release removes only its own files: a user file at a path the agent never took survives', async () => {
    const taken: LockSubject = { ...subject, serviceNames: ['main'] };
    expect((await manager.take(taken, { override: false, reason: 'test' })).ok).toBe(true);
    // worker joined the app after the take: its lock dir was never the agent's
    const workerLock = hostPaths()[2]!;
    await userFile(workerLock, 'worker lock');
    await manager.release(subject.appUuid);
    expect(await filesUnder()).toEqual([workerLock]);
    expect(await fs.readFile(workerLock, 'utf8')).toBe('worker lock');
  });

  it('release leaves a user lock that replaced an agent file (removed by hand) alone', async () => {
    expect((await manager.take(subject, { override: false, reason: 'test' })).ok).toBe(true);
    const first = hostPaths()[0]!;
    await fs.rm(first);
    await userFile(first, 'mine now');
    await manager.release(subject.appUuid);
    expect(await filesUnder()).toEqual([first]);
  });

  it('taking again while held is a no-op success', async () => {
    expect((await manager.take(subject, { override: false, reason: 'a' })).ok).toBe(true);
    expect(await manager.take(subject, { override: false, reason: 'b' })).toEqual({
      ok: true,
      removedUserLocks: [],
    });
  });

  it('releaseAll drops every app the agent holds', async () => {
    const other: LockSubject = { appUuid: 'app-2', appId: 12, serviceNames: ['x'] };
    await manager.take(subject, { override: false, reason: 'a' });
    await manager.take(other, { override: false, reason: 'a' });
    await manager.releaseAll();
    expect(await manager.list([subject, other])).toEqual([]);
  });
});

describe('locks/manager: removeStaleAgentLocks after a crash', () => {
  it('removes the markers a killed agent of this device left, and its temp files', async () => {
    const killed = new LockManager(layout, DEVICE, silentLogger());
    expect((await killed.take(subject, { override: false, reason: 'update' })).ok).toBe(true);
    const temp = path.join(path.dirname(hostPaths()[0]!), '.bosun-lock-deadbeef0000');
    await fs.writeFile(temp, '{"holder":"bosun-agent"');
    // "killed": never released. A new manager (a new process) starts up.
    const removed = await manager.removeStaleAgentLocks();
    expect(removed.sort()).toEqual(hostPaths().sort());
    expect(await filesUnder()).toEqual([]);
  });

  it('never removes a user lock: empty file, other text, directory, dangling symlink, another device marker', async () => {
    const [balena, resin, workerBalena, workerResin, data] = hostPaths();
    await userFile(balena!);
    await userFile(resin!, 'held by app pid 42');
    await fs.mkdir(workerBalena!, { recursive: true });
    await fs.symlink(path.join(root, 'gone'), workerResin!);
    await agentMarker(data!, OTHER_DEVICE);
    expect(await manager.removeStaleAgentLocks()).toEqual([]);
    expect(await filesUnder()).toEqual(hostPaths().sort());
    expect((await manager.scan(subject)).userLocks).toHaveLength(5);
  });

  it('stale markers of this agent do not block a take (adopted even before cleanup)', async () => {
    await agentMarker(hostPaths()[0]!, DEVICE);
    const result = await manager.take(subject, { override: false, reason: 'update' });
    expect(result).toEqual({ ok: true, removedUserLocks: [] });
    await manager.release(subject.appUuid);
    expect(await filesUnder()).toEqual([]);
  });
});
