import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../../src/cli.js';
import { managerTokenLine } from '../../../src/fleet/cli-serve.js';
import { startFleetServer, type FleetServer } from '../../../src/fleet/server.js';

const TOKEN = 'manager-token-for-cli-tests';
const FIXTURES = path.join(process.cwd(), 'test/fixtures/compose');

/** Runs `bosun fleet ...` in-process and captures what it writes. */
async function bosun(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const outSpy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const errSpy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(['node', 'bosun', 'fleet', ...args]);
    return { code, stdout, stderr };
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
}

describe('fleet/cli against a real backend', () => {
  let dir: string;
  let server: FleetServer;
  let auth: string[];
  let provisioningKey: string;
  let appUuid: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bosun-fleet-cli-'));
    server = await startFleetServer({ port: 0, dbFile: path.join(dir, 'fleet.db'), token: TOKEN });
    auth = ['--url', server.url, '--token', TOKEN];
    const created = await bosun('create', 'kitchen', ...auth, '--json');
    expect(created.code).toBe(0);
    ({ provisioningKey, appUuid } = JSON.parse(created.stdout));
    const registered = await server.store.devices.register(
      { uuid: 'device-aaaa-0001', fleet: 'kitchen', deviceApiKey: 'device-key-0001' },
      provisioningKey,
    );
    expect(registered.created).toBe(true);
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates a fleet and prints its provisioning key once', async () => {
    const created = await bosun('create', 'garage', ...auth);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^created fleet garage \(app id \d+, app uuid [0-9a-f]{32}\)\nprovisioning key: \S+\n/,
    );
    const fleets = await bosun('fleets', ...auth);
    expect(fleets.stdout.split('\n')[0]).toMatch(/^FLEET\s+APP ID\s+APP UUID\s+DEVICES\s+TARGET RELEASE$/);
    expect(fleets.stdout).toMatch(/kitchen\s+\d+\s+[0-9a-f]{32}\s+1\s+/);
  });

  it('pushes a compose file and shows the new release', async () => {
    const pushed = await bosun('push', 'kitchen', path.join(FIXTURES, 'two-services.yml'), ...auth);
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toMatch(/^release \d+ \([0-9a-f]{32}\) is now the target of kitchen\n/);
    expect(pushed.stdout).toContain('main: 127.0.0.1:5000/bosun/demo:1 (service id');
    const asJson = await bosun('push', 'kitchen', path.join(FIXTURES, 'demo-2.yml'), ...auth, '--json');
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      fleet: 'kitchen',
      commit: expect.stringMatching(/^[0-9a-f]{32}$/),
    });
  });

  it('lists devices as a table with release, status, progress, lock and last seen', async () => {
    const [release] = (await server.store.fleets.listReleases('kitchen')).slice(-1);
    await server.store.devices.mergeReports(
      {
        'device-aaaa-0001': {
          update_locks: [
            { service: 'main', path: '/tmp/balena/updates.lock', since: new Date().toISOString() },
          ],
          apps: {
            [appUuid]: {
              release_uuid: 'oldrelease0000',
              releases: {
                [release!.commit]: {
                  update_status: 'locked',
                  services: { main: { download_progress: 100 } },
                },
              },
            },
          },
        },
      },
      'device-key-0001',
    );
    const devices = await bosun('devices', '--fleet', 'kitchen', ...auth);
    expect(devices.code).toBe(0);
    const [header, row] = devices.stdout.split('\n');
    expect(header).toMatch(/^DEVICE\s+FLEET\s+RELEASE\s+STATUS\s+PROGRESS\s+BLOCKED BY\s+LAST SEEN$/);
    expect(row).toMatch(
      new RegExp(
        `^device-aaaa-0001\\s+kitchen\\s+oldrele -> ${release!.commit.slice(0, 7)}\\s+locked\\s+100%\\s+` +
          'main:/tmp/balena/updates.lock since \\d+s ago\\s+\\d+s ago$',
      ),
    );
    const asJson = JSON.parse((await bosun('devices', ...auth, '--json')).stdout);
    expect(asJson[0]).toMatchObject({
      uuid: 'device-aaaa-0001',
      updateStatus: 'locked',
      downloadProgress: 100,
    });
  });

  it('config set checks the update policies as the devices do: a bad value is refused, nothing stored', async () => {
    const bad = await bosun(
      'config',
      'set',
      'kitchen',
      'RESIN_SUPERVISOR_UPDATE_WINDOW=Mo 02:00-04:00',
      ...auth,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/config\.RESIN_SUPERVISOR_UPDATE_WINDOW: .*unknown day "Mo"/);
    const deadline = await bosun('config', 'set', 'kitchen', 'SUPERVISOR_UPDATE_LOCK_DEADLINE=soon', ...auth);
    expect(deadline.code).toBe(2);
    expect((await bosun('config', 'list', 'kitchen', ...auth, '--json')).stdout).not.toMatch(/UPDATE_/);
    const good = await bosun('config', 'set', 'kitchen', 'SUPERVISOR_UPDATE_PROBATION=90s', ...auth);
    expect(good.code).toBe(0);
    expect((await bosun('config', 'unset', 'kitchen', 'SUPERVISOR_UPDATE_PROBATION', ...auth)).code).toBe(0);
  });

  it('sets, lists and unsets fleet and device config vars', async () => {
    expect((await bosun('config', 'set', 'kitchen', 'SUPERVISOR_OVERRIDE_LOCK=0', ...auth)).code).toBe(0);
    expect(
      (await bosun('config', 'set', '--device', 'device-aaaa-0001', 'SUPERVISOR_OVERRIDE_LOCK=1', ...auth))
        .code,
    ).toBe(0);
    const fleetList = await bosun('config', 'list', 'kitchen', ...auth);
    expect(fleetList.stdout).toMatch(/^KEY\s+VALUE\s+FROM\nSUPERVISOR_OVERRIDE_LOCK\s+0\s+fleet\n$/);
    const deviceList = await bosun('config', 'list', '--device', 'device-aaaa-0001', ...auth);
    expect(deviceList.stdout).toMatch(/SUPERVISOR_OVERRIDE_LOCK\s+1\s+device/);
    const asJson = JSON.parse(
      (await bosun('config', 'list', '--device', 'device-aaaa-0001', ...auth, '--json')).stdout,
    );
    expect(asJson).toEqual({
      fleet: { SUPERVISOR_OVERRIDE_LOCK: '0' },
      device: { SUPERVISOR_OVERRIDE_LOCK: '1' },
      effective: { SUPERVISOR_OVERRIDE_LOCK: '1' },
    });
    const unset = await bosun(
      'config',
      'unset',
      '--device',
      'device-aaaa-0001',
      'SUPERVISOR_OVERRIDE_LOCK',
      ...auth,
    );
    expect(unset.stdout).toBe('SUPERVISOR_OVERRIDE_LOCK removed from device-aaaa-0001\n');
  });

  it('exits 2 with one line for an unknown fleet, a bad compose file or a wrong token', async () => {
    const unknown = await bosun('devices', '--fleet', 'nope', ...auth);
    expect(unknown).toEqual({ code: 2, stdout: '', stderr: 'bosun: unknown fleet "nope"\n' });
    const bad = await bosun('push', 'kitchen', path.join(FIXTURES, 'bad-syntax.yml'), ...auth);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^bosun: invalid compose file: .*line \d+, column \d+\)\n$/);
    const missing = await bosun('push', 'kitchen', path.join(FIXTURES, 'no-such.yml'), ...auth);
    expect(missing.code).toBe(2);
    const wrongToken = await bosun('fleets', '--url', server.url, '--token', 'wrong');
    expect(wrongToken.code).toBe(2);
    expect(wrongToken.stderr.split('\n')).toHaveLength(2);
  });

  it('exits 2 with the device message for a release devices would reject, and prints their warnings', async () => {
    const relative = await bosun('push', 'kitchen', path.join(FIXTURES, 'relative-working-dir.yml'), ...auth);
    expect(relative).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'bosun: invalid compose file: services.main.composition.working_dir: expected an absolute path, ' +
        'found the string "app" (line 4, column 18)\n',
    });
    const warned = await bosun('push', 'kitchen', path.join(FIXTURES, 'unsupported-key.yml'), ...auth);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/^release \d+ /);
    expect(warned.stderr).toBe(
      'bosun: warning: services.main.composition.blkio_config: unsupported composition key "blkio_config" ' +
        'ignored (line 5, column 19)\n',
    );
  });

  it('exits 1 with one line when the backend is unreachable', async () => {
    const down = await bosun('fleets', '--url', 'http://127.0.0.1:9', '--token', TOKEN);
    expect(down.code).toBe(1);
    expect(down.stderr).toBe('bosun: cannot reach the fleet backend at http://127.0.0.1:9: ECONNREFUSED\n');
  });

  it('watches a rollout until every device is on its target release', async () => {
    const [release] = (await server.store.fleets.listReleases('kitchen')).slice(-1);
    const timedOut = await bosun('watch', 'kitchen', '--timeout', '0.3', '--interval', '100', ...auth);
    expect(timedOut.code).toBe(1);
    expect(timedOut.stdout).toContain('kitchen: 0/1 on target, 0 downloading, 1 locked');
    expect(timedOut.stderr).toMatch(/timed out: 0 of 1 devices/);
    const report = {
      'device-aaaa-0001': { update_locks: [], apps: { [appUuid]: { release_uuid: release!.commit } } },
    };
    setTimeout(() => void server.store.devices.mergeReports(report, 'device-key-0001'), 250);
    const done = await bosun('watch', 'kitchen', '--interval', '100', '--timeout', '10', ...auth, '--json');
    expect(done.code).toBe(0);
    const lines = done.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.at(-1)).toMatchObject({ fleet: 'kitchen', total: 1, onTarget: 1 });
  });

  it('rolls a fleet back to an earlier release, and forward again', async () => {
    const releases = await server.store.fleets.listReleases('kitchen');
    const [first, latest] = [releases[0]!, releases.at(-1)!];
    const back = await bosun('rollback', 'kitchen', first.commit.slice(0, 10), ...auth);
    expect(back).toEqual({
      code: 0,
      stdout: `fleet kitchen now targets release ${first.id} (${first.commit.slice(0, 7)})\n`,
      stderr: '',
    });
    const targetOf = async () =>
      JSON.parse((await bosun('devices', '--fleet', 'kitchen', ...auth, '--json')).stdout);
    expect((await targetOf())[0].targetRelease).toEqual({ id: first.id, commit: first.commit });

    const forward = await bosun('rollback', 'kitchen', String(latest.id), ...auth, '--json');
    expect(JSON.parse(forward.stdout)).toEqual({
      fleet: 'kitchen',
      target: { id: latest.id, commit: latest.commit },
      rollout: expect.objectContaining({ state: 'running', openedWaves: 1 }),
    });
    expect((await targetOf())[0].targetRelease).toEqual({ id: latest.id, commit: latest.commit });

    const unknown = await bosun('rollback', 'kitchen', 'ffffffffff', ...auth);
    expect(unknown).toEqual({
      code: 2,
      stdout: '',
      stderr: 'bosun: unknown release "ffffffffff" in this fleet\n',
    });
  });

  it('prints a generated manager token only when it is made: at first serve, or with token --rotate', async () => {
    const dbFile = path.join(dir, 'rotate.db');
    const own = await startFleetServer({ port: 0, address: '127.0.0.1', dbFile });
    try {
      const first = own.token!;
      expect(managerTokenLine(own.tokenSource, own.token, dbFile)).toContain(`manager token: ${first} (`);
      const fleetsWith = async (token: string) =>
        (await bosun('fleets', '--url', own.url, '--token', token)).code;
      expect(await fleetsWith(first)).toBe(0);

      const show = await bosun('token', '--db', dbFile);
      expect(show.code).toBe(2);
      expect(show.stderr).toMatch(/^bosun: the database keeps only a hash of the manager token.*--rotate\n$/);

      const rotated = await bosun('token', '--rotate', '--db', dbFile);
      expect(rotated.code).toBe(0);
      const second = rotated.stdout.trim();
      expect(second).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(second).not.toBe(first);
      // The running server reads the stored hash per request: the old token stops working at once.
      expect(await fleetsWith(second)).toBe(0);
      expect(await fleetsWith(first)).toBe(2);
      expect(managerTokenLine('stored', undefined, dbFile)).not.toMatch(/[A-Za-z0-9_-]{32}/);
    } finally {
      await own.close();
    }
  });

  it('has --help on every verb', async () => {
    for (const verb of [['serve'], ['push'], ['rollback'], ['devices'], ['config', 'set'], ['watch']]) {
      const help = await bosun(...verb, '--help');
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: bosun fleet /);
    }
  });
});
