import { describe, expect, it } from '@jest/globals';
import type Docker from 'dockerode';
import { toCreateOptions } from '../../../src/engine/docker-mapping.js';
import type { ContainerSpec } from '../../../src/engine/types.js';
import { containerSpecFor, type SpecContext } from '../../../src/reconcile/container-spec.js';
import { planSteps } from '../../../src/reconcile/plan.js';
import { serviceConfigHash } from '../../../src/target/config-hash.js';
import { parseComposition } from '../../../src/target/composition.js';
import type { TargetService } from '../../../src/target/types.js';
import { app, container, facts, service, target } from '../../helpers/builders.js';

const CONTEXT: SpecContext = {
  deviceUuid: 'device-1',
  layout: { lockDir: '/locks', dataDir: '/data' },
  apiHost: '127.0.0.1',
  apiPort: 48484,
  appKeys: { 7: 'app-key' },
  hostDockerSocket: '/var/run/docker.sock',
  apiEndpoint: 'https://cloud.example',
  deviceApiKey: 'device-key',
};

/** A service whose composition is parsed from compose keys, as a target carries it. */
function composed(raw: Record<string, unknown>, over: Partial<TargetService> = {}): TargetService {
  return service('main', { ...over, composition: parseComposition(raw, 'c', []) });
}

function specOf(svc: TargetService, ctx: SpecContext = CONTEXT): ContainerSpec {
  const a = app('app-1', 7, { uuid: 'rel-1', id: 1, services: [svc] });
  return containerSpecFor(a, a.release!, svc, serviceConfigHash(svc), ctx);
}

function hostConfig(svc: TargetService, ctx?: SpecContext): Docker.HostConfig & Record<string, unknown> {
  return toCreateOptions(specOf(svc, ctx)).HostConfig as Docker.HostConfig & Record<string, unknown>;
}

describe('reconcile/container-spec and engine/docker-mapping: real releases', () => {
  it('maps ports to ExposedPorts and PortBindings (host networking too, as balena does)', () => {
    for (const networkMode of ['none', 'host']) {
      const options = toCreateOptions(
        specOf(
          composed({
            network_mode: networkMode,
            ports: ['127.0.0.1:8080:80', '9090:80', '5353:53/udp', '3000'],
            expose: ['7000'],
          }),
        ),
      );
      expect(options.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '3000/tcp': {}, '7000/tcp': {} });
      expect(options.HostConfig?.PortBindings).toEqual({
        '80/tcp': [
          { HostIp: '127.0.0.1', HostPort: '8080' },
          { HostIp: '', HostPort: '9090' },
        ],
        '53/udp': [{ HostIp: '', HostPort: '5353' }],
        '3000/tcp': [{ HostIp: '', HostPort: '' }],
      });
    }
  });

  it('maps every hardware, privilege and resource key to its Engine API field', () => {
    const options = toCreateOptions(
      specOf(
        composed({
          network_mode: 'none',
          privileged: true,
          devices: ['/dev/null:/dev/mynull:rw'],
          device_cgroup_rules: ['c 1:3 mr'],
          cap_add: ['NET_ADMIN'],
          cap_drop: ['MKNOD'],
          security_opt: ['no-new-privileges'],
          sysctls: { 'net.core.somaxconn': 1024 },
          ulimits: { nofile: { soft: 1024, hard: 2048 } },
          pid: 'host',
          ipc: 'shareable',
          group_add: ['dialout'],
          shm_size: '64m',
          read_only: true,
          tmpfs: '/run:size=1m',
          mem_limit: '128m',
          mem_reservation: '64m',
          memswap_limit: '256m',
          cpu_shares: 512,
          cpu_quota: 50000,
          cpuset: '0',
          oom_kill_disable: true,
          oom_score_adj: 100,
          dns: ['127.0.0.1'],
          dns_search: ['example.com'],
          dns_opt: ['ndots:2'],
          extra_hosts: ['db:127.0.0.2'],
          hostname: 'sensor',
          domainname: 'example.com',
          mac_address: '02:42:ac:11:00:02',
          logging: { driver: 'json-file', options: { 'max-size': '1m' } },
          stdin_open: true,
        }),
      ),
    );
    expect(options).toMatchObject({
      Hostname: 'sensor',
      Domainname: 'example.com',
      MacAddress: '02:42:ac:11:00:02',
      OpenStdin: true,
    });
    expect(options.HostConfig).toMatchObject({
      NetworkMode: 'none',
      Privileged: true,
      Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }],
      DeviceCgroupRules: ['c 1:3 mr'],
      CapAdd: ['NET_ADMIN'],
      CapDrop: ['MKNOD'],
      SecurityOpt: ['no-new-privileges'],
      Sysctls: { 'net.core.somaxconn': '1024' },
      Ulimits: [{ Name: 'nofile', Soft: 1024, Hard: 2048 }],
      PidMode: 'host',
      IpcMode: 'shareable',
      GroupAdd: ['dialout'],
      ShmSize: 64 * 1024 ** 2,
      ReadonlyRootfs: true,
      Tmpfs: { '/run': 'size=1m' },
      Memory: 128 * 1024 ** 2,
      MemoryReservation: 64 * 1024 ** 2,
      MemorySwap: 256 * 1024 ** 2,
      CpuShares: 512,
      CpuQuota: 50000,
      CpusetCpus: '0',
      OomKillDisable: true,
      OomScoreAdj: 100,
      Dns: ['127.0.0.1'],
      DnsSearch: ['example.com'],
      DnsOptions: ['ndots:2'],
      ExtraHosts: ['db:127.0.0.2'],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '1m' } },
    });
  });

  it('sets none of those fields for a service that uses none of the keys', () => {
    const options = toCreateOptions(specOf(composed({ network_mode: 'none' })));
    expect(Object.keys(options.HostConfig ?? {}).sort()).toEqual([
      'Init',
      'Mounts',
      'NetworkMode',
      'RestartPolicy',
    ]);
    expect(options).not.toHaveProperty('ExposedPorts');
    expect(options).not.toHaveProperty('Hostname');
  });

  it.each([
    ['host networking, nothing asked', { network_mode: 'host' }, ['NET_RAW']],
    [
      'host networking, its own cap_drop merged',
      { network_mode: 'host', cap_drop: ['MKNOD'] },
      ['MKNOD', 'NET_RAW'],
    ],
    ['host networking, cap_add NET_RAW', { network_mode: 'host', cap_add: ['cap_net_raw'] }, undefined],
    [
      'host networking, cap_add ALL',
      { network_mode: 'host', cap_add: ['ALL'], cap_drop: ['MKNOD'] },
      ['MKNOD'],
    ],
    ['host networking, privileged', { network_mode: 'host', privileged: true }, undefined],
    ['no network', { network_mode: 'none' }, undefined],
    ['no network, its own cap_drop', { network_mode: 'none', cap_drop: ['NET_RAW'] }, ['NET_RAW']],
  ])('drops NET_RAW on the host network unless asked: %s', (_what, raw, capDrop) => {
    expect(hostConfig(composed(raw)).CapDrop).toEqual(capDrop);
  });

  it('gives each feature label its mounts, environment and devices; its binds are applied', () => {
    const features = [
      'balena-socket',
      'dbus',
      'sysfs',
      'procfs',
      'kernel-modules',
      'firmware',
      'journal-logs',
      'balena-api',
      'gpu',
    ];
    const labels = Object.fromEntries(features.map((f) => [`io.balena.features.${f}`, '1']));
    const spec = specOf(composed({ network_mode: 'none' }, { labels }));
    const host = hostConfig(composed({ network_mode: 'none' }, { labels }));
    expect(host.Binds).toEqual([
      '/run/dbus:/host/run/dbus',
      '/sys:/sys',
      '/proc:/proc',
      '/lib/modules:/lib/modules',
      '/lib/firmware:/lib/firmware',
      '/var/log/journal:/var/log/journal:ro',
      '/run/log/journal:/run/log/journal:ro',
      '/etc/machine-id:/etc/machine-id:ro',
    ]);
    expect(host.Mounts).toContainEqual({
      Type: 'bind',
      Source: '/var/run/docker.sock',
      Target: '/var/run/balena.sock',
      ReadOnly: false,
    });
    expect(host.DeviceRequests).toEqual([{ Driver: '', Count: -1, Capabilities: [['gpu']] }]);
    expect(spec.env).toMatchObject({
      DOCKER_HOST: 'unix:///var/run/balena.sock',
      DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/host/run/dbus/system_bus_socket',
      BALENA_API_URL: 'https://cloud.example',
      BALENA_API_KEY: 'device-key',
      RESIN_API_KEY: 'device-key',
    });
  });

  it('reads io.resin.features.* and compose-level labels too; "0" turns a feature off', () => {
    const on = composed({ network_mode: 'none', labels: { 'io.resin.features.sysfs': 'true' } });
    expect(hostConfig(on).Binds).toEqual(['/sys:/sys']);
    const off = composed(
      { network_mode: 'none', labels: { 'io.balena.features.sysfs': '1' } },
      { labels: { 'io.balena.features.sysfs': '0' } },
    );
    expect(hostConfig(off).Binds).toBeUndefined();
  });

  it('gives balena-socket neither mount nor DOCKER_HOST when the engine is reached over TCP', () => {
    const svc = composed({ network_mode: 'none' }, { labels: { 'io.balena.features.balena-socket': '1' } });
    const spec = specOf(svc, { ...CONTEXT, hostDockerSocket: undefined });
    expect(spec.env.DOCKER_HOST).toBeUndefined();
    expect(spec.mounts.map((m) => m.target)).not.toContain('/var/run/balena.sock');
  });

  it('merges compose-level labels under the service labels and bosun labels', () => {
    const svc = composed(
      { network_mode: 'none', labels: { team: 'compose', keep: 'yes', 'io.balena.app-id': '999' } },
      { labels: { team: 'service' } },
    );
    expect(specOf(svc).labels).toMatchObject({ team: 'service', keep: 'yes', 'io.balena.app-id': '7' });
  });

  it('mounts anonymous volumes without a name and leaves out volumes aimed at bosun mounts', () => {
    const svc = composed({ network_mode: 'none', volumes: ['/var/cache', 'data:/data', 'data:/srv'] });
    expect(hostConfig(svc).Mounts).toEqual([
      { Type: 'bind', Source: '/data/apps/7/data', Target: '/data', ReadOnly: false },
      { Type: 'bind', Source: '/locks/7/main', Target: '/tmp/balena', ReadOnly: false },
      { Type: 'bind', Source: '/locks/7/main', Target: '/tmp/resin', ReadOnly: false },
      { Type: 'volume', Source: '', Target: '/var/cache', ReadOnly: false },
      { Type: 'volume', Source: 'bosun_device-1_7_data', Target: '/srv', ReadOnly: false },
    ]);
  });
});

describe('reconcile/plan: hardware keys and the config hash', () => {
  const raw = {
    network_mode: 'none',
    privileged: true,
    devices: ['/dev/null'],
    mem_limit: '64m',
    ports: ['80'],
  };

  it('an unchanged release with hardware keys plans nothing', () => {
    const svc = composed(raw);
    const a = app('app-1', 7, { uuid: 'rel-1', id: 1, services: [svc] });
    const plan = planSteps(
      target(a),
      facts({ containers: [container(a, svc)], images: new Set([svc.image]) }),
    );
    expect(plan.steps).toEqual([]);
  });

  it.each([
    ['privileged', { privileged: false }],
    ['devices', { devices: ['/dev/zero'] }],
    ['mem_limit', { mem_limit: '65m' }],
    ['ports', { ports: ['81'] }],
    ['cap_add', { cap_add: ['SYS_ADMIN'] }],
    ['labels', { labels: { a: 'b' } }],
  ])('a changed %s recreates the container', (_key, change) => {
    const before = composed(raw);
    const after = composed({ ...raw, ...change });
    const old = app('app-1', 7, { uuid: 'rel-1', id: 1, services: [before] });
    const next = app('app-1', 7, { uuid: 'rel-1', id: 1, services: [after] });
    const running = container(old, before);
    const plan = planSteps(target(next), facts({ containers: [running], images: new Set([after.image]) }));
    expect(plan.steps.map((s) => s.action)).toEqual(['takeLock', 'kill']);
  });
});
