/**
 * Real releases as written (contract sections 9 and 11), on the real engine: hardware, privilege
 * and resource keys, feature-label mounts, volumes, skipped bind mounts, and the device policy.
 * Privileged containers cannot start on this engine, so `privileged` and the GPU request are
 * checked on a created container (running: false) through docker inspect. Ports are checked by
 * inspect only here (with network_mode none nothing answers on a bound port); networks.test.ts
 * publishes one from a bridge service and fetches it on 127.0.0.1.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { appContainers, shellIn, waitReleaseIn, waitReleaseRunning } from '../../helpers/containers.js';
import { DEMO_1 } from '../../helpers/images.js';
import { ConfigError, loadConfig, silentLogger, startAgent } from '../../helpers/shipped-agent.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

describe('releases on the real engine: hardware, features, volumes (contract section 9)', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('creates a privileged service with devices, caps, features, GPUs and ports as docker inspect shows', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 9101,
        releaseUuid: r1,
        releaseId: 1,
        services: {
          main: {
            image: DEMO_1,
            running: false,
            labels: {
              'io.balena.features.sysfs': '1',
              'io.balena.features.dbus': '1',
              'io.balena.features.journal-logs': '1',
              'io.balena.features.balena-socket': '1',
              'io.balena.features.gpu': '1',
            },
            composition: {
              privileged: true,
              devices: ['/dev/null:/dev/bosun-null:rw'],
              cap_add: ['SYS_ADMIN'],
              cap_drop: ['MKNOD'],
              ports: ['127.0.0.1:18080:80', '5353:53/udp'],
              expose: ['9000'],
            },
          },
        },
      }),
    );
    const created = (await waitReleaseIn(t, appUuid, r1, 'created')).main!;
    const raw = await docker.getContainer(created.id).inspect();
    expect(raw.HostConfig).toMatchObject({
      Privileged: true,
      Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/bosun-null', CgroupPermissions: 'rw' }],
      CapAdd: ['SYS_ADMIN'],
      CapDrop: ['MKNOD'],
      DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }],
      PortBindings: {
        '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }],
        '53/udp': [{ HostIp: '', HostPort: '5353' }],
      },
    });
    expect(Object.keys(raw.Config.ExposedPorts ?? {}).sort()).toEqual(['53/udp', '80/tcp', '9000/tcp']);
    expect(raw.HostConfig.Binds).toEqual([
      '/run/dbus:/host/run/dbus',
      '/sys:/sys',
      '/var/log/journal:/var/log/journal:ro',
      '/run/log/journal:/run/log/journal:ro',
      '/etc/machine-id:/etc/machine-id:ro',
    ]);
    const mounts = raw.HostConfig.Mounts ?? [];
    expect(mounts).toContainEqual(
      expect.objectContaining({
        Type: 'bind',
        Source: '/var/run/docker.sock',
        Target: '/var/run/balena.sock',
      }),
    );
    expect(raw.Config.Env).toEqual(expect.arrayContaining(['DOCKER_HOST=unix:///var/run/balena.sock']));
  });

  it('runs a service with its limits, sysctls, devices and an anonymous volume in force', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 9102,
        releaseUuid: r1,
        releaseId: 1,
        services: {
          main: {
            image: DEMO_1,
            labels: { 'io.balena.features.procfs': '0' },
            composition: {
              command: ['sleep', '3600'],
              init: true,
              devices: ['/dev/zero:/dev/bosun-zero'],
              sysctls: { 'net.ipv4.ip_forward': '1' },
              ulimits: { nofile: { soft: 1024, hard: 2048 } },
              mem_limit: '64m',
              mem_reservation: '32m',
              cpu_shares: 512,
              cpu_quota: 50000,
              shm_size: '16m',
              hostname: 'sensor-1',
              labels: { 'com.example.team': 'sensors' },
              volumes: ['/var/cache/app'],
            },
          },
        },
      }),
    );
    const c = (await waitReleaseRunning(t, appUuid, r1)).main!;
    const raw = await docker.getContainer(c.id).inspect();
    expect(raw.HostConfig).toMatchObject({
      Sysctls: { 'net.ipv4.ip_forward': '1' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      Memory: 64 * 1024 ** 2,
      MemoryReservation: 32 * 1024 ** 2,
      CpuShares: 512,
      CpuQuota: 50000,
      ShmSize: 16 * 1024 ** 2,
    });
    expect(raw.Config.Labels).toMatchObject({ 'com.example.team': 'sensors' });
    expect(raw.HostConfig.Binds ?? []).toEqual([]);
    const anonymous = raw.Mounts.find((m) => m.Destination === '/var/cache/app');
    expect(anonymous).toMatchObject({ Type: 'volume' });
    expect(anonymous?.Name).toMatch(/^[0-9a-f]{64}$/);
    const inside = await shellIn(
      c.id,
      'ulimit -n; cat /proc/sys/net/ipv4/ip_forward; hostname; test -c /dev/bosun-zero && echo device',
    );
    expect(inside.split('\n')).toEqual(['1024', '1', 'sensor-1', 'device', '']);
  });

  it('restarts nothing for an unchanged release, and recreates the container when a key changes', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    const doc = (memLimit: string) =>
      deviceObject({
        appUuid,
        appId: 9103,
        releaseUuid: r1,
        releaseId: 1,
        services: {
          main: {
            image: DEMO_1,
            composition: {
              command: ['sleep', '3600'],
              init: true,
              mem_limit: memLimit,
              ulimits: { nofile: 4096 },
              cap_add: ['NET_ADMIN'],
              devices: ['/dev/null'],
            },
          },
        },
      });
    await t.setTarget(doc('64m'));
    const first = (await waitReleaseRunning(t, appUuid, r1)).main!;

    await t.setTarget(doc('64m'));
    for (let i = 0; i < 2; i += 1) {
      t.agent.loop.trigger();
      await t.agent.loop.nextPass();
    }
    const [same] = await appContainers(t, appUuid);
    expect(same).toMatchObject({ id: first.id, status: 'running', startedAt: first.startedAt });

    await t.setTarget(doc('96m'));
    const second = await waitFor('the container recreated with the new mem_limit', async () => {
      const cs = await appContainers(t, appUuid);
      return cs.length === 1 && cs[0]!.id !== first.id && cs[0]!.status === 'running' ? cs[0] : undefined;
    });
    expect((await docker.getContainer(second.id).inspect()).HostConfig.Memory).toBe(96 * 1024 ** 2);
  });

  it('skips a bind mount with a warning and runs the rest of the service; named volumes get driver options and labels', async () => {
    const appUuid = unique('app');
    const r1 = unique('rel');
    const appId = 9104;
    await t.setTarget(
      deviceObject({
        appUuid,
        appId,
        releaseUuid: r1,
        releaseId: 1,
        volumes: {
          scratch: {
            driver: 'local',
            driver_opts: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
            labels: { tier: 'cache' },
          },
        },
        services: {
          main: {
            image: DEMO_1,
            composition: {
              command: ['sleep', '3600'],
              init: true,
              volumes: ['/etc:/host-etc:ro', 'scratch:/scratch'],
            },
          },
        },
      }),
    );
    const c = (await waitReleaseRunning(t, appUuid, r1)).main!;
    expect(t.agent.keeper.targetWarnings).toEqual([
      {
        path: `apps.${appUuid}.releases.${r1}.services.main.composition.volumes[0]`,
        message: expect.stringMatching(/^bind mount "\/etc:\/host-etc:ro" not applied/),
      },
    ]);
    const raw = await docker.getContainer(c.id).inspect();
    expect(raw.Mounts.map((m) => m.Destination)).not.toContain('/host-etc');
    expect(raw.Mounts.map((m) => m.Destination)).toContain('/scratch');
    const volume = await docker.getVolume(`bosun_${t.uuid}_${appId}_scratch`).inspect();
    expect(volume).toMatchObject({
      Driver: 'local',
      Options: { type: 'tmpfs', device: 'tmpfs', o: 'size=1m' },
      Labels: expect.objectContaining({ tier: 'cache', 'io.bosun.device-uuid': t.uuid }),
    });
    expect(await shellIn(c.id, 'echo ok > /scratch/f && cat /scratch/f')).toBe('ok\n');
  });
});

describe('device policy on a real agent (contract section 11)', () => {
  let t: TestAgent;
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-policy-'));
    const policyFile = path.join(dir, 'policy.json');
    await fs.writeFile(
      policyFile,
      JSON.stringify({ allowPrivileged: false, allowedCapabilities: ['NET_ADMIN'] }),
    );
    t = await startTestAgent({ config: { policyFile } });
  });
  afterAll(async () => {
    await t?.cleanup();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('rejects a privileged target whole, with a target_error naming app, service, key and rule', async () => {
    const appUuid = unique('app');
    const target = (composition: Record<string, unknown>) =>
      deviceObject({
        appUuid,
        appId: 9201,
        releaseUuid: unique('rel'),
        releaseId: 1,
        services: {
          main: { image: DEMO_1, composition: { command: ['sleep', '3600'], init: true } },
          hw: { image: DEMO_1, composition },
        },
      });
    const verdict = await t.agent.keeper.offerLocal(target({ privileged: true }));
    expect(verdict.accepted).toBe(false);
    const error = t.agent.keeper.targetError;
    expect(error).toBe(
      `device policy: app "app-9201" (${appUuid}), service "hw": privileged is true, but allowPrivileged is false (BOSUN_POLICY_FILE)`,
    );
    const device = await t.api('GET', '/v1/device');
    expect((device.body as { target_error: string }).target_error).toBe(error);
    // Nothing of the rejected target runs.
    expect(await appContainers(t, appUuid)).toEqual([]);

    // NET_RAW is a capability like any other: not listed, not granted.
    const netRaw = await t.agent.keeper.offerLocal(target({ cap_add: ['NET_RAW'] }));
    expect(netRaw.reason).toMatch(
      /service "hw": cap_add asks for NET_RAW, but allowedCapabilities allows only NET_ADMIN/,
    );
  });

  it('refuses to start with a policy file that has an unknown key', async () => {
    const bad = path.join(dir, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ allowEverything: true }));
    const config = {
      ...loadConfig({}),
      dataDir: path.join(dir, 'data'),
      lockDir: path.join(dir, 'locks'),
      policyFile: bad,
    };
    const start = startAgent(config, { log: silentLogger() });
    await expect(start).rejects.toBeInstanceOf(ConfigError);
    await expect(start).rejects.toThrow(/unknown key "allowEverything"/);
  });
});
