import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareCursors } from '../../../src/engine/log-cursor.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import {
  LABELS,
  type ContainerInfo,
  type ContainerLogLine,
  type ContainerSpec,
  type Engine,
  type FollowLogsOptions,
} from '../../../src/engine/types.js';
import { LogCursors } from '../../../src/logs/cursors.js';
import { LogFollower } from '../../../src/logs/follower.js';
import type { DeviceLogLine } from '../../../src/logs/types.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { waitFor } from '../../helpers/wait.js';

const DEVICE = 'device-logs';
const IMAGE = 'registry.test/app:1';

function spec(serviceName: string): ContainerSpec {
  return {
    name: `${serviceName}_1`,
    image: IMAGE,
    labels: {
      [LABELS.supervised]: 'true',
      [LABELS.appId]: '7',
      [LABELS.appUuid]: 'app-uuid',
      [LABELS.serviceName]: serviceName,
      [LABELS.serviceId]: '2',
      [LABELS.deviceUuid]: DEVICE,
      [LABELS.releaseUuid]: 'release-uuid',
      [LABELS.releaseId]: '3',
      [LABELS.imageId]: '4',
      [LABELS.configHash]: 'hash',
    },
    env: {},
    restart: 'always',
    networkMode: 'none',
    mounts: [],
  };
}

describe('logs/follower over the memory engine', () => {
  let dir: string;
  let engine: MemoryEngine;
  let store: JsonStore;
  let follower: LogFollower | undefined;
  let received: DeviceLogLine[];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-log-follower-'));
    engine = new MemoryEngine({ images: [IMAGE] });
    store = new JsonStore(dir);
    received = [];
  });

  afterEach(async () => {
    await follower?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** A follower that, like the cloud path, counts a line delivered at once. */
  const startFollower = async () => {
    const cursors = await LogCursors.load(store, silentLogger());
    follower = new LogFollower({
      engine,
      cursors,
      log: silentLogger(),
      onLine: (line) => {
        received.push(line);
        cursors.record([line]);
      },
    });
    return { follower, cursors };
  };
  const sync = async () => follower!.sync(await engine.listContainers(DEVICE));
  const messages = () => received.map((l) => `${l.serviceName}:${l.isStderr ? 'err' : 'out'}:${l.message}`);

  it('follows every running container from its start: stdout and stderr, with its service name', async () => {
    const main = await engine.createContainer(spec('main'));
    await engine.startContainer(main);
    engine.simulateLog(main, 'before the agent looked');
    await startFollower();
    await sync();
    engine.simulateLog(main, 'oops', 'stderr');
    const helper = await engine.createContainer(spec('helper'));
    await engine.startContainer(helper);
    await sync();
    engine.simulateLog(helper, 'hi');
    expect(messages()).toEqual(['main:out:before the agent looked', 'main:err:oops', 'helper:out:hi']);
    expect(received[0]).toMatchObject({ appId: 7, source: { containerId: main } });
    expect(follower!.following).toBe(2);
  });

  it('reads the lines of a container that ran and exited between two passes', async () => {
    await startFollower();
    const main = await engine.createContainer(spec('main'));
    await engine.startContainer(main);
    engine.simulateLog(main, 'short-lived');
    engine.simulateExit(main, 1);
    await sync();
    await waitFor('the follow to end', () => follower!.following === 0);
    await sync(); // read to its end: not read again
    expect(messages()).toEqual(['main:out:short-lived']);
    // Started again by the engine: its new lines, and only those.
    engine.simulateRestart(main, 1);
    engine.simulateLog(main, 'second life');
    await sync();
    expect(messages()).toEqual(['main:out:short-lived', 'main:out:second life']);
  });

  it('after an agent restart, resumes after the last line delivered: no line twice, none lost', async () => {
    const main = await engine.createContainer(spec('main'));
    await engine.startContainer(main);
    const first = await startFollower();
    await sync();
    engine.simulateLog(main, 'one');
    engine.simulateLog(main, 'two');
    await first.follower.stop();
    await first.cursors.persist();
    engine.simulateLog(main, 'three (while the agent was down)');

    received = [];
    await startFollower();
    await sync();
    engine.simulateLog(main, 'four');
    expect(messages()).toEqual(['main:out:three (while the agent was down)', 'main:out:four']);
  });

  it('stops following containers that are gone and forgets their cursors', async () => {
    const { cursors } = await startFollower();
    const main = await engine.createContainer(spec('main'));
    await engine.startContainer(main);
    await sync();
    engine.simulateLog(main, 'bye');
    expect(cursors.get(main)).toEqual({ stdout: expect.any(String) });
    await engine.removeContainer(main, { force: true });
    await sync();
    expect(follower!.following).toBe(0);
    expect(engine.logFollowers(main)).toBe(0);
    expect(cursors.get(main)).toEqual({});
  });

  it('keeps a line the engine stamped before a line of the other stream it kept first', async () => {
    // Docker stamps stdout and stderr in two readers: its log may hold err@2 after out@3.
    const kept: ContainerLogLine[] = [
      { message: 'out1', timestamp: 1, isStderr: false, cursor: '100.000000001' },
      { message: 'out3', timestamp: 3, isStderr: false, cursor: '100.000000003' },
      { message: 'err2', timestamp: 2, isStderr: true, cursor: '100.000000002' },
      { message: 'err4', timestamp: 4, isStderr: true, cursor: '100.000000004' },
    ];
    const asked: Array<string | undefined> = [];
    const replaying = {
      // Like the engine: every kept line at or after `since` (inclusive), then the follow ends.
      followLogs: async (_id: string, options: FollowLogsOptions) => {
        asked.push(options.since);
        for (const line of kept)
          if (options.since === undefined || compareCursors(line.cursor, options.since) >= 0)
            options.onLine(line);
      },
    } as unknown as Engine;
    const container = {
      id: 'c1',
      serviceName: 'main',
      appId: 7,
      status: 'exited',
      startedAt: 'a',
    } as ContainerInfo;
    const run = async (keep: number) => {
      const cursors = await LogCursors.load(store, silentLogger());
      const got: string[] = [];
      const f = new LogFollower({
        engine: replaying,
        cursors,
        log: silentLogger(),
        onLine: (line) => {
          got.push(line.message);
          if (got.length <= keep) cursors.record([line]);
        },
      });
      f.sync([container]);
      await waitFor('the follow to end', () => f.following === 0);
      await cursors.persist();
      return got;
    };
    expect(await run(3)).toEqual(['out1', 'out3', 'err2', 'err4']);
    // Delivered up to err2 (out3 and err2 are the streams' cursors): a restart reads from a
    // second before the earlier of them, and hands on only err4.
    expect(await run(4)).toEqual(['err4']);
    expect(asked).toEqual([undefined, '99.000000002']);
  });
});
