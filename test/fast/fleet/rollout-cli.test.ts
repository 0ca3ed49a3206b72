/**
 * The fleet CLI's staged rollouts and tags (contract section 12) against a real backend: devices
 * are registered and report through the store, as agents would through the device API.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RolloutView } from '../../../src/fleet/api-types.js';
import { rolloutOrder } from '../../../src/fleet/rollout-plan.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';
import { runCli } from '../../helpers/fleet-sim.js';
import { httpCall } from '../../helpers/fleet-http.js';

const TOKEN = 'manager-token-for-rollout-cli-tests';
const FIXTURES = path.join(process.cwd(), 'test/fixtures/compose');
const DEVICES = 6;
const uuids = Array.from({ length: DEVICES }, (_, i) => `device-roll-${String(i).padStart(4, '0')}`);
const keyOf = (uuid: string) => `key-of-${uuid}`;

describe('fleet/cli: staged rollouts and tags against a real backend', () => {
  let dir: string;
  let server: FleetServer;
  let auth: string[];
  let appUuid: string;
  const bosun = (...args: string[]) => runCli(['fleet', ...args, ...auth]);

  const report = (uuid: string, commit: string, status: string) =>
    server.store.devices.mergeReports(
      {
        [uuid]: {
          apps: {
            [appUuid]: {
              release_uuid: status === 'done' ? commit : null,
              releases: { [commit]: { update_status: status } },
            },
          },
        },
      },
      keyOf(uuid),
    );

  const status = async (): Promise<RolloutView> =>
    JSON.parse((await bosun('rollout', 'status', 'kitchen', '--json')).stdout);
  const releaseCount = async () => (await server.store.fleets.listReleases('kitchen')).length;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-rollout-cli-'));
    server = await startFleetServer({
      port: 0,
      address: '127.0.0.1',
      dbFile: path.join(dir, 'fleet.db'),
      token: TOKEN,
    });
    auth = ['--url', server.url, '--token', TOKEN];
    const created = JSON.parse((await bosun('create', 'kitchen', '--json')).stdout);
    appUuid = created.appUuid;
    for (const uuid of uuids) {
      await server.store.devices.register(
        { uuid, fleet: 'kitchen', deviceApiKey: keyOf(uuid) },
        created.provisioningKey,
      );
    }
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('tags and untags devices, and lists devices by tag', async () => {
    const tagged = await bosun('tag', uuids[0]!, 'ring=canary', 'site=berlin');
    expect(tagged).toEqual({
      code: 0,
      stdout: `device ${uuids[0]} tags: ring=canary, site=berlin\n`,
      stderr: '',
    });
    expect((await bosun('tag', uuids[1]!, 'ring=canary')).code).toBe(0);
    expect((await bosun('untag', uuids[0]!, 'site')).stdout).toBe(`device ${uuids[0]} tags: ring=canary\n`);
    const list = await bosun('devices', '--fleet', 'kitchen', '--tag', 'ring=canary');
    const rows = list.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^DEVICE\s+FLEET\s+RELEASE\s+STATUS\s+PROGRESS\s+BLOCKED BY\s+LAST SEEN\s+TAGS$/);
    expect(rows.slice(1).map((row) => row.split(/\s+/)[0])).toEqual(uuids.slice(0, 2));
    expect(rows[1]).toMatch(/ring=canary$/);
    const asJson = JSON.parse((await bosun('devices', '--tag', 'ring=canary', '--json')).stdout);
    expect(asJson.map((d: { tags: unknown }) => d.tags)).toEqual([{ ring: 'canary' }, { ring: 'canary' }]);

    for (const args of [
      ['tag', uuids[0]!, 'novalue'],
      ['tag', uuids[0]!, 'bad key=x'],
      ['tag', 'no-such-device', 'a=b'],
      ['devices', '--tag', 'nokey'],
    ]) {
      const bad = await bosun(...args);
      expect({ args, code: bad.code, lines: bad.stderr.split('\n').length }).toEqual({
        args,
        code: 2,
        lines: 2,
      });
    }
  });

  it('a plain push rolls out in one wave; --only limits it to tagged devices', async () => {
    const plain = await bosun('push', 'kitchen', path.join(FIXTURES, 'two-services.yml'));
    expect(plain.stdout).toMatch(/^release \d+ \([0-9a-f]{32}\) is now the target of kitchen\n/);
    const first = await status();
    expect(first).toMatchObject({ state: 'running', waveSpec: '100%', openedWaves: 1 });
    for (const uuid of uuids) await report(uuid, first.release.commit, 'done');
    expect((await status()).state).toBe('complete');

    const canary = await bosun('push', 'kitchen', path.join(FIXTURES, 'demo-2.yml'), '--only', 'ring=canary');
    expect(canary.code).toBe(0);
    expect(canary.stdout).toMatch(
      /^rolling release \d+ \([0-9a-f]{7}\) out to 2 devices tagged ring=canary of kitchen: running\n/,
    );
    const devices = JSON.parse((await bosun('devices', '--fleet', 'kitchen', '--json')).stdout) as Array<{
      uuid: string;
      targetRelease: { commit: string };
    }>;
    const second = (await status()).release.commit;
    expect(devices.filter((d) => d.targetRelease.commit === second).map((d) => d.uuid)).toEqual(
      uuids.slice(0, 2),
    );
    for (const uuid of uuids.slice(0, 2)) await report(uuid, second, 'done');
    expect((await status()).state).toBe('complete');
  });

  it('rolls a release out in waves, shows each wave and each device wave, halts and says why', async () => {
    const release = (await server.store.fleets.listReleases('kitchen'))[0]!;
    const started = await bosun(
      'rollout',
      'kitchen',
      String(release.id),
      '--rollout',
      '1,50%,100%',
      '--max-failures',
      '0',
    );
    expect(started).toEqual({
      code: 0,
      stdout: `rolling release ${release.id} (${release.commit.slice(0, 7)}) out to 6 devices of kitchen in 3 waves (1, 2, 3): wave 1 open, running\n`,
      stderr: '',
    });
    const order = rolloutOrder(uuids, release.commit);

    // A second rollout while this one runs: exit 2, one line, nothing changed.
    const releases = await releaseCount();
    const busy = await bosun('push', 'kitchen', path.join(FIXTURES, 'demo-2.yml'), '--rollout', '1,100%');
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(
      /^bosun: a rollout of release \d+ is running in fleet kitchen \(wave 1 of 3\); abort it first: bosun fleet rollout abort kitchen\n$/,
    );
    expect(await releaseCount()).toBe(releases);

    await report(order[0]!, release.commit, 'done');
    const table = await bosun('devices', '--fleet', 'kitchen');
    const rows = table.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^DEVICE\s+FLEET\s+RELEASE\s+WAVE\s+STATUS\s+/);
    const waveColumn = (uuid: string) => rows.find((row) => row.startsWith(uuid))!.split(/\s{2,}/)[3];
    expect(waveColumn(order[0]!)).toBe('1/3');
    expect(waveColumn(order[1]!)).toBe('2/3');
    expect(waveColumn(order[5]!)).toBe('3/3 (waiting)');

    await report(order[1]!, release.commit, 'rolled back');
    const text = await bosun('rollout', 'status', 'kitchen');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(
      [
        `rollout ${(await status()).id} of release ${release.id} (${release.commit.slice(0, 7)}) in fleet kitchen: halted: 1 device failed in waves 1-2, more than --max-failures 0`,
        // The fleet's target was still release 1 (the --only push left it): the previous release.
        `waves 1,50%,100%, wave wait 0, max failures 0; previous release ${release.id} (${release.commit.slice(0, 7)})`,
        'WAVE  DEVICES  DONE  FAILED  PENDING  STATE',
        '1/3   1        1     0       0        settled',
        '2/3   2        0     1       1        open',
        '3/3   3        0     0       3        waiting',
        'failed devices:',
        `  ${order[1]} (wave 2): rolled back`,
        '',
      ].join('\n'),
    );
    expect((await bosun('rollout', 'resume', 'kitchen')).code).toBe(2);
    const aborted = await bosun('rollout', 'abort', 'kitchen');
    expect(aborted.stdout).toMatch(/^rollout \d+ of release \d+ in fleet kitchen: aborted\n$/);
  });

  it('pauses and resumes a rollout', async () => {
    const pushed = await bosun(
      'push',
      'kitchen',
      path.join(FIXTURES, 'demo-2.yml'),
      '--rollout',
      '1,100%',
      '--wave-wait',
      '0s',
      '--json',
    );
    const release = JSON.parse(pushed.stdout);
    expect(release.rollout).toMatchObject({ state: 'running', waveSpec: '1,100%' });
    expect((await bosun('rollout', 'pause', 'kitchen')).stdout).toMatch(/: paused\n$/);
    const [firstDevice] = rolloutOrder(uuids, release.commit);
    await report(firstDevice!, release.commit, 'done');
    expect(await status()).toMatchObject({ state: 'paused', openedWaves: 1 });
    expect((await bosun('rollout', 'resume', 'kitchen')).stdout).toMatch(/: running\n$/);
    expect((await status()).openedWaves).toBe(2);
    expect((await bosun('rollout', 'abort', 'kitchen')).code).toBe(0);
  });

  it('refuses malformed waves, options, fleets and releases: exit 2, one line, nothing changed', async () => {
    const releases = await releaseCount();
    const before = await status();
    const compose = path.join(FIXTURES, 'demo-2.yml');
    for (const args of [
      ['push', 'kitchen', compose, '--rollout', '0'],
      ['push', 'kitchen', compose, '--rollout', '110%'],
      ['push', 'kitchen', compose, '--rollout', '10,5'],
      ['push', 'kitchen', compose, '--rollout', ''],
      ['push', 'kitchen', compose, '--rollout', '1,100%', '--wave-wait', 'soon'],
      ['push', 'kitchen', compose, '--rollout', '1,100%', '--max-failures', 'many'],
      ['push', 'kitchen', compose, '--only', 'ring=nobody'],
      ['push', 'nope', compose, '--rollout', '1,100%'],
      ['rollout', 'kitchen', 'ffffffffff', '--rollout', '1,100%'],
      ['rollout', 'nope', '1', '--rollout', '1,100%'],
      ['rollout', 'status', 'nope'],
      ['rollout', 'pause', 'kitchen'],
    ]) {
      const bad = await bosun(...args);
      expect({ args, code: bad.code, stdout: bad.stdout, lines: bad.stderr.split('\n').length }).toEqual({
        args,
        code: 2,
        stdout: '',
        lines: 2,
      });
    }
    expect(await releaseCount()).toBe(releases);
    expect(await status()).toEqual(before);
  });

  it('answers bad rollout and tag input on the manager API with 4xx and a message', async () => {
    const call = (method: string, route: string, body?: unknown) =>
      httpCall(server.url, method, route, { key: TOKEN, body });
    const cases: Array<[string, string, unknown, number]> = [
      ['POST', '/v1/fleets/kitchen/rollouts', { release: '1', rollout: { waves: '0' } }, 400],
      ['POST', '/v1/fleets/kitchen/rollouts', { release: '1', rollout: { waves: ['1'] } }, 400],
      ['POST', '/v1/fleets/kitchen/rollouts', { release: '1', rollout: { colour: 'red' } }, 400],
      ['POST', '/v1/fleets/kitchen/rollouts', { release: '1', rollout: { only: 'ring=canary' } }, 400],
      ['POST', '/v1/fleets/kitchen/rollouts', { rollout: {} }, 400],
      ['POST', '/v1/fleets/nope/rollouts', { release: '1' }, 404],
      ['GET', '/v1/fleets/nope/rollout', undefined, 404],
      ['PATCH', `/v1/devices/${uuids[0]}/tags`, ['ring'], 400],
      ['PATCH', `/v1/devices/${uuids[0]}/tags`, { ring: 5 }, 400],
      ['PATCH', `/v1/devices/${uuids[0]}/tags`, { 'a\u0000b': 'x' }, 400],
      ['PATCH', `/v1/devices/${uuids[0]}/tags`, { ring: 'a\nb' }, 400],
      ['PATCH', '/v1/devices/nobody-0000/tags', { ring: 'x' }, 404],
      ['GET', '/v1/devices?tag=%00', undefined, 400],
    ];
    for (const [method, route, body, expected] of cases) {
      const answer = await call(method, route, body);
      expect({ route, body, status: answer.status, message: typeof answer.json().message }).toEqual({
        route,
        body,
        status: expected,
        message: 'string',
      });
    }
  });
});
