/**
 * Attacks on the host through what the agent creates, mounts and deletes, each tried as a hostile
 * app (inside a real container) or a hostile local user would try it (contract sections 2 and 7).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { nextRelease, startApp } from '../../helpers/apps.js';
import { appContainers, DOCKER_CLI, shellIn, waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_2 } from '../../helpers/images.js';
import { UnsafePathError } from '../../helpers/shipped-agent.js';

const run = promisify(execFile);
/** A uid that is neither root nor the agent's: a local user. */
const LOCAL_USER = 1000;
/** CAP_NET_RAW's bit in /proc/<pid>/status CapEff. */
const CAP_NET_RAW_BIT = 1n << 13n;

/** Host files an attacker wants deleted; names like the entries of the app's tree. */
async function makeVictim(root: string): Promise<{ dir: string; files: string[] }> {
  const dir = await fs.mkdtemp(path.join(root, 'host-files-'));
  const files = ['f1', 'f2', 'f3', 'passwd', 's'];
  for (const name of files) await fs.writeFile(path.join(dir, name), name);
  return { dir, files };
}

async function listed(dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

describe('hardening (real engine): an app cannot make the agent hurt the host', () => {
  let t: TestAgent;
  let root: string;
  beforeAll(async () => {
    t = await startTestAgent();
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-victim-'));
  });
  afterAll(async () => {
    await t.cleanup();
    await fs.rm(root, { recursive: true, force: true });
  });

  it('a lock override never follows a directory lock that the app swaps for symlinks mid-removal', async () => {
    const victim = await makeVictim(root);
    const app = await startApp(t, 8601);
    const { id } = app.running.main!;
    // The app's lock is a large tree...
    await shellIn(
      id,
      'L=/tmp/balena/updates.lock; mkdir $L; i=0; while [ $i -lt 400 ]; do ' +
        'mkdir -p $L/d$i/s; touch $L/d$i/s/f1 $L/d$i/f2 $L/d$i/f3; i=$((i+1)); done',
    );
    // ...whose directories it keeps swapping for symlinks to a host directory (a symlink's target
    // is resolved by whoever follows it: the agent would land in the host's directory).
    await run(DOCKER_CLI, [
      'exec',
      '-d',
      id,
      'sh',
      '-c',
      'L=/tmp/balena/updates.lock; while [ -d $L ]; do i=0; while [ $i -lt 400 ]; do ' +
        `mv $L/d$i /tmp/balena/h$i 2>/dev/null && ln -s ${victim.dir} $L/d$i && rm $L/d$i && ` +
        'mv /tmp/balena/h$i $L/d$i; i=$((i+1)); done; done',
    ]);
    const next = nextRelease(app, 2, { main: { image: LOCKER_2 } });
    await t.setTarget(next.target);
    expect((await t.api('POST', '/v1/update', { force: true })).status).toBe(204);
    await waitReleaseRunning(t, app.appUuid, next.releaseUuid, ['main']);
    expect(await listed(victim.dir)).toEqual(victim.files);
    // The tree went through the agent's private trash and is gone; the app's dir holds no copy.
    const lockDir = path.join(t.config.lockDir, '8601', 'main');
    await waitFor(
      'trash emptied',
      async () => (await listed(path.join(t.config.lockDir, '.bosun-trash'))).length === 0,
    );
    expect((await listed(lockDir)).filter((name) => name.startsWith('d'))).toEqual([]);
    expect(await listed(victim.dir)).toEqual(victim.files);
  });

  it('names like the agent own files, made by an app as directories, links and fifos, never stop start-up', async () => {
    const victim = await makeVictim(root);
    const app = await startApp(t, 8602);
    const { id } = app.running.main!;
    await shellIn(
      id,
      'mkdir /tmp/balena/.bosun-lock-0123456789ab /data/.bosun-lock-0123456789ab; ' +
        `ln -s ${victim.dir}/passwd /tmp/balena/.bosun-lock-link; mkfifo /data/.bosun-lock-fifo; ` +
        'mkdir /tmp/resin/resin-updates.lock',
    );
    await t.restart();
    expect((await t.api('GET', '/v2/locks')).status).toBe(200);
    // All of it is still there (left alone, and logged), and so are the host's files.
    const made = await shellIn(
      id,
      'ls -a /tmp/balena /data | grep -c -e .bosun-lock- -e resin-updates.lock || true',
    );
    expect(made.trim()).toBe('5');
    expect(await listed(victim.dir)).toEqual(victim.files);
    // The directory at the legacy lock path is the app's lock, and it still holds the app.
    expect((await t.api('GET', '/v2/locks')).body).toMatchObject({
      locks: [{ path: '/tmp/resin/resin-updates.lock', holder: 'app' }],
    });
    await shellIn(id, 'rmdir /tmp/resin/resin-updates.lock');
  });

  it('a service on the host network cannot open a packet socket to read loopback traffic (no NET_RAW)', async () => {
    const app = await startApp(t, 8603, {
      main: { image: LOCKER_2, composition: { network_mode: 'host' } },
    });
    const { id } = app.running.main!;
    const capEff = /CapEff:\s*([0-9a-f]+)/.exec(await shellIn(id, 'cat /proc/1/status'))![1]!;
    expect(BigInt(`0x${capEff}`) & CAP_NET_RAW_BIT).toBe(0n);
    // A sniffer needs a packet socket on lo; the kernel refuses it.
    const arping = await shellIn(id, 'arping -c 1 -w 1 -I lo 127.0.0.1 2>&1; true');
    expect(arping).toContain('socket: Operation not permitted');
    const { stdout } = await run(DOCKER_CLI, ['inspect', '--format', '{{json .HostConfig.CapDrop}}', id]);
    expect(JSON.parse(stdout)).toEqual(['NET_RAW']);
  });

  it('refuses to mount a lock dir that is a symlink planted to a root-only directory', async () => {
    const secret = await fs.mkdtemp(path.join(root, 'root-only-'));
    await fs.chmod(secret, 0o700);
    const appId = 8604;
    await fs.mkdir(path.join(t.config.lockDir, String(appId)), { recursive: true });
    await fs.symlink(secret, path.join(t.config.lockDir, String(appId), 'main'));
    const appUuid = unique('app');
    const next = nextRelease({ appUuid, appId }, 1, { main: { image: LOCKER_2 } });
    await t.setTarget(next.target);
    const error = await waitFor(
      'the app reports the refusal',
      async () => t.agent.loop.status.apps[appUuid]?.error,
    );
    expect(error).toBe(
      `refusing to use ${path.join(t.config.lockDir, String(appId), 'main')}: it is a symlink`,
    );
    expect(await appContainers(t, appUuid)).toEqual([]);
    expect(await listed(secret)).toEqual([]);
  });
});

describe('hardening: bases a local user could have planted', () => {
  it('refuses to start with a lock dir under a directory a local user owns', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-planted-'));
    try {
      // The attack: a local user made /tmp/bosun before the agent's first start.
      const planted = path.join(root, 'bosun');
      await fs.mkdir(planted);
      await fs.chown(planted, LOCAL_USER, LOCAL_USER);
      const err = await startTestAgent({ config: { lockDir: path.join(planted, 'services') } }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UnsafePathError);
      expect((err as Error).message).toContain(`${planted} is owned by uid ${LOCAL_USER}, not root`);
      expect(await fs.readdir(planted)).toEqual([]);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
