import { describe, expect, it } from '@jest/globals';
import { parseComposition } from '../../../src/target/composition.js';
import { parseByteSize } from '../../../src/target/compose-values.js';
import { parseVolumeConfig } from '../../../src/target/compose-volumes.js';
import { TargetValidationError } from '../../../src/target/fields.js';
import type { Composition, TargetWarning } from '../../../src/target/types.js';

/** The composition of `raw` (network_mode none unless given), and the warnings it gave. */
function parse(raw: Record<string, unknown>): { c: Composition; warnings: TargetWarning[] } {
  const warnings: TargetWarning[] = [];
  const c = parseComposition({ network_mode: 'none', ...raw }, 'c', warnings);
  return { c, warnings };
}

function rejection(raw: Record<string, unknown>): TargetValidationError {
  try {
    parse(raw);
  } catch (err) {
    if (err instanceof TargetValidationError) return err;
    throw err;
  }
  throw new Error('composition was accepted');
}

describe('target/compose-ports: ports and expose', () => {
  const tcp = (containerPort: number, hostPort?: number, hostIp?: string) => ({
    containerPort,
    protocol: 'tcp',
    ...(hostPort !== undefined && { hostPort }),
    ...(hostIp !== undefined && { hostIp }),
    published: true,
  });

  it.each([
    ['"80"', ['80'], [tcp(80)]],
    ['a number', [80], [tcp(80)]],
    ['"8080:80"', ['8080:80'], [tcp(80, 8080)]],
    [
      '"127.0.0.1:8080:80/udp"',
      ['127.0.0.1:8080:80/udp'],
      [{ ...tcp(80, 8080, '127.0.0.1'), protocol: 'udp' }],
    ],
    ['"127.0.0.1::80" (engine picks the host port)', ['127.0.0.1::80'], [tcp(80, undefined, '127.0.0.1')]],
    ['"[::1]:8080:80"', ['[::1]:8080:80'], [tcp(80, 8080, '::1')]],
    ['a range', ['8000-8002:9000-9002'], [tcp(9000, 8000), tcp(9001, 8001), tcp(9002, 8002)]],
    ['a container range', ['7000-7001'], [tcp(7000), tcp(7001)]],
    [
      'the long form',
      [{ target: 80, published: '8080', host_ip: '127.0.0.1', protocol: 'udp', mode: 'host' }],
      [{ ...tcp(80, 8080, '127.0.0.1'), protocol: 'udp' }],
    ],
    ['the long form without published', [{ target: 80 }], [tcp(80)]],
  ])('reads ports: %s', (_what, ports, expected) => {
    expect(parse({ ports }).c.ports).toEqual(expected);
  });

  it('reads expose as unpublished ports after the published ones', () => {
    expect(parse({ ports: ['8080:80'], expose: ['90', '91-92/udp', 93] }).c.ports).toEqual([
      tcp(80, 8080),
      { containerPort: 90, protocol: 'tcp', published: false },
      { containerPort: 91, protocol: 'udp', published: false },
      { containerPort: 92, protocol: 'udp', published: false },
      { containerPort: 93, protocol: 'tcp', published: false },
    ]);
  });

  it.each([
    [{ ports: ['0:80'] }, 'c.ports[0]', /the host port as a port \(1-65535\)/],
    [{ ports: ['8080:70000'] }, 'c.ports[0]', /the container port/],
    [{ ports: ['8000-8002:80-81'] }, 'c.ports[0]', /same number of ports/],
    [{ ports: ['1-2000'] }, 'c.ports[0]', /at most 1024/],
    [{ ports: ['1.2.3:8080:80'] }, 'c.ports[0]', /a host IP address/],
    [{ ports: ['8080:80/icmp'] }, 'c.ports[0]', /one of tcp, udp, sctp/],
    [{ ports: ['a:b:c:d'] }, 'c.ports[0]', /a port such as/],
    [{ ports: ['8080:80', '8080:81'] }, 'c.ports', /host port 8080\/tcp is published twice/],
    [{ ports: [{ published: 80 }] }, 'c.ports[0].target', /the container port/],
    [{ ports: [{ target: 80, mode: 'swarm' }] }, 'c.ports[0].mode', /"host" or "ingress"/],
    [{ ports: '80' }, 'c.ports', /an array of ports/],
    [{ expose: ['80/tcp/x'] }, 'c.expose[0]', /a port such as/],
  ])('rejects %j at %s', (raw, path, message) => {
    const err = rejection(raw);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it('warns about long-form port keys it does not know', () => {
    expect(parse({ ports: [{ target: 80, x_note: 1 }] }).warnings).toEqual([
      { path: 'c.ports[0].x_note', message: 'unsupported port key "x_note" ignored' },
    ]);
  });
});

describe('target/compose-hardware and compose-resources', () => {
  it('reads every hardware, privilege and resource key', () => {
    const { c, warnings } = parse({
      privileged: true,
      devices: ['/dev/ttyUSB0', '/dev/a:/dev/b', '/dev/c:/dev/d:rw', '/dev/e:r', { source: '/dev/f' }],
      device_cgroup_rules: ['c 188:* rmw'],
      cap_add: ['net_admin', 'CAP_SYS_RAWIO'],
      cap_drop: ['MKNOD'],
      security_opt: ['no-new-privileges'],
      sysctls: ['net.core.somaxconn=1024'],
      ulimits: { nproc: 65535, nofile: { soft: 1024, hard: 4096 } },
      pid: 'host',
      ipc: 'shareable',
      group_add: ['dialout', 20],
      shm_size: '64m',
      read_only: true,
      tmpfs: ['/run', '/tmp:rw,size=64m'],
      mem_limit: '512m',
      mem_reservation: '1.5m',
      memswap_limit: '1g',
      cpu_shares: 512,
      cpu_quota: 50000,
      cpuset: '0-1',
      oom_kill_disable: true,
      oom_score_adj: -500,
      stdin_open: true,
    });
    expect(warnings).toEqual([]);
    expect(c).toMatchObject({
      privileged: true,
      devices: [
        { pathOnHost: '/dev/ttyUSB0', pathInContainer: '/dev/ttyUSB0', cgroupPermissions: 'rwm' },
        { pathOnHost: '/dev/a', pathInContainer: '/dev/b', cgroupPermissions: 'rwm' },
        { pathOnHost: '/dev/c', pathInContainer: '/dev/d', cgroupPermissions: 'rw' },
        { pathOnHost: '/dev/e', pathInContainer: '/dev/e', cgroupPermissions: 'r' },
        { pathOnHost: '/dev/f', pathInContainer: '/dev/f', cgroupPermissions: 'rwm' },
      ],
      deviceCgroupRules: ['c 188:* rmw'],
      capAdd: ['NET_ADMIN', 'SYS_RAWIO'],
      capDrop: ['MKNOD'],
      securityOpt: ['no-new-privileges'],
      sysctls: { 'net.core.somaxconn': '1024' },
      ulimits: [
        { name: 'nofile', soft: 1024, hard: 4096 },
        { name: 'nproc', soft: 65535, hard: 65535 },
      ],
      pid: 'host',
      ipc: 'shareable',
      groupAdd: ['dialout', '20'],
      shmSize: 64 * 1024 ** 2,
      readOnly: true,
      tmpfs: { '/run': '', '/tmp': 'rw,size=64m' },
      memLimit: 512 * 1024 ** 2,
      memReservation: 1.5 * 1024 ** 2,
      memswapLimit: 1024 ** 3,
      cpuShares: 512,
      cpuQuota: 50000,
      cpuset: '0-1',
      oomKillDisable: true,
      oomScoreAdj: -500,
      stdinOpen: true,
    });
  });

  it.each([
    [{ privileged: 'yes' }, 'c.privileged', /true or false/],
    [{ devices: ['dev/ttyUSB0'] }, 'c.devices[0]', /the host device as an absolute path/],
    [{ devices: ['/dev/a:/dev/b:rwx'] }, 'c.devices[0]', /combination of r, w and m/],
    [{ devices: ['/dev/a:/dev/b:rwm:x'] }, 'c.devices[0]', /a device such as/],
    [{ device_cgroup_rules: ['c 188 rwm'] }, 'c.device_cgroup_rules[0]', /a device cgroup rule/],
    [{ cap_add: ['NET ADMIN'] }, 'c.cap_add[0]', /a capability name/],
    [{ cap_add: [''] }, 'c.cap_add[0]', /a non-empty string/],
    [{ cap_drop: 7 }, 'c.cap_drop', /a string or an array of strings/],
    [{ sysctls: { 'bad name': '1' } }, 'c.sysctls["bad name"]', /a kernel parameter name/],
    [{ sysctls: ['kernel.shmmax'] }, 'c.sysctls[0]', /KEY=VALUE/],
    [
      { ulimits: { nofile: { soft: 10, hard: 5 } } },
      'c.ulimits.nofile',
      /soft limit 10 is above the hard limit 5/,
    ],
    [{ ulimits: { nofile: 'lots' } }, 'c.ulimits.nofile', /a whole number/],
    [{ ulimits: [] }, 'c.ulimits', /a map of limits/],
    [{ pid: 'service:db' }, 'c.pid', /not supported: only "host"/],
    [{ ipc: 'container:x' }, 'c.ipc', /not supported/],
    [{ ipc: 'everything' }, 'c.ipc', /one of host, private, shareable, none/],
    [{ group_add: ['a b'] }, 'c.group_add[0]', /a group name or numeric id/],
    [{ shm_size: '12 parsecs' }, 'c.shm_size', /a size such as 512m/],
    [{ mem_limit: -1 }, 'c.mem_limit', /a size such as 512m/],
    [{ mem_limit: '1m' }, 'c.mem_limit', /below the engine's minimum of 6m/],
    [{ mem_limit: '64m', mem_reservation: '128m' }, 'c.mem_reservation', /above mem_limit/],
    [{ memswap_limit: '1g' }, 'c.memswap_limit', /needs mem_limit/],
    [{ mem_limit: '1g', memswap_limit: '512m' }, 'c.memswap_limit', /cannot be below mem_limit/],
    [{ cpu_quota: 10 }, 'c.cpu_quota', /at least 1000 microseconds/],
    [{ cpu_shares: 1e9 }, 'c.cpu_shares', /from 0 to 262144/],
    [{ cpuset: 'all' }, 'c.cpuset', /CPUs such as "0-3"/],
    [{ oom_score_adj: 2000 }, 'c.oom_score_adj', /from -1000 to 1000/],
    [{ tmpfs: ['run'] }, 'c.tmpfs[0]', /an absolute container path/],
    [{ tmpfs: ['/run', '/run:size=1m'] }, 'c.tmpfs[1]', /not already in tmpfs/],
    [{ stdin_open: 1 }, 'c.stdin_open', /true or false/],
  ])('rejects %j at %s', (raw, path, message) => {
    const err = rejection(raw);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it.each([
    [0, 0],
    [1024, 1024],
    ['100', 100],
    ['100b', 100],
    ['64k', 65536],
    ['512m', 512 * 1024 ** 2],
    ['512MB', 512 * 1024 ** 2],
    ['1g', 1024 ** 3],
    ['1.5G', 1.5 * 1024 ** 3],
  ])('parses the size %j as %d bytes', (value, bytes) => {
    expect(parseByteSize(value, 'p')).toBe(bytes);
  });

  it('refuses host-network conflicts the engine would hit only at create or start', () => {
    expect(rejection({ network_mode: 'host', mac_address: '02:42:ac:11:00:02' }).path).toBe('c.mac_address');
    expect(rejection({ network_mode: 'host', sysctls: { 'net.ipv4.ip_forward': '1' } }).path).toBe(
      'c.sysctls["net.ipv4.ip_forward"]',
    );
    // Not network sysctls, and not host networking: fine.
    expect(parse({ network_mode: 'host', sysctls: { 'kernel.msgmax': '65536' } }).c.sysctls).toEqual({
      'kernel.msgmax': '65536',
    });
    expect(parse({ sysctls: { 'net.ipv4.ip_forward': '1' } }).c.sysctls).toBeDefined();
  });
});

describe('target/compose-runtime: DNS, hosts, identity, labels, logging', () => {
  it('reads them all', () => {
    const { c } = parse({
      dns: '127.0.0.1',
      dns_search: ['example.com'],
      dns_opt: ['ndots:2'],
      extra_hosts: ['db:127.0.0.2', 'gw:host-gateway', 'v6:::1'],
      hostname: 'sensor-1',
      domainname: 'example.com',
      mac_address: '02:42:AC:11:00:02',
      labels: ['com.example.team=sensors', 'empty='],
      logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': 3 } },
    });
    expect(c).toMatchObject({
      dns: ['127.0.0.1'],
      dnsSearch: ['example.com'],
      dnsOpt: ['ndots:2'],
      extraHosts: ['db:127.0.0.2', 'gw:host-gateway', 'v6:::1'],
      hostname: 'sensor-1',
      domainname: 'example.com',
      macAddress: '02:42:ac:11:00:02',
      labels: { 'com.example.team': 'sensors', empty: '' },
      logging: { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } },
    });
    expect(parse({ extra_hosts: { db: '10.0.0.1' } }).c.extraHosts).toEqual(['db:10.0.0.1']);
    expect(parse({ logging: { options: {} } }).c.logging).toEqual({ driver: 'json-file', options: {} });
  });

  it.each([
    [{ dns: ['example.com'] }, 'c.dns[0]', /an IP address/],
    [{ dns_search: ['a b'] }, 'c.dns_search[0]', /a word without spaces/],
    [{ extra_hosts: ['db'] }, 'c.extra_hosts[0]', /KEY:VALUE/],
    [{ extra_hosts: ['db:nowhere'] }, 'c.extra_hosts.db', /an IP address or "host-gateway"/],
    [{ hostname: 'under_score' }, 'c.hostname', /a host name/],
    [{ mac_address: '02:42' }, 'c.mac_address', /a MAC address/],
    [{ labels: { 'a\nb': 'x' } }, 'c.labels["a\\nb"]', /line break/],
    [{ labels: 'x' }, 'c.labels', /a map, or an array/],
    [{ logging: { driver: '' } }, 'c.logging.driver', /a non-empty string/],
    [{ logging: { options: { a: {} } } }, 'c.logging.options.a', /a string, number or boolean/],
  ])('rejects %j at %s', (raw, path, message) => {
    const err = rejection(raw);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it('warns about logging keys it does not know', () => {
    expect(parse({ logging: { driver: 'local', format: 'x' } }).warnings).toEqual([
      { path: 'c.logging.format', message: 'unsupported logging key "format" ignored' },
    ]);
  });
});

describe('target/compose-volumes', () => {
  it('mounts named and anonymous volumes, and skips each bind mount with a warning', () => {
    const { c, warnings } = parse({
      volumes: [
        'data:/data-in',
        '/var/cache',
        'logs:/logs:ro',
        '/etc:/host-etc',
        './conf:/conf:ro',
        { type: 'volume', target: '/anon' },
        { type: 'bind', source: '/dev', target: '/dev' },
        { source: '/opt', target: '/opt' },
      ],
    });
    expect(c.volumes).toEqual([
      { volume: 'data', target: '/data-in', readOnly: false },
      { target: '/var/cache', readOnly: false },
      { volume: 'logs', target: '/logs', readOnly: true },
      { target: '/anon', readOnly: false },
    ]);
    expect(warnings.map((w) => w.path)).toEqual([
      'c.volumes[3]',
      'c.volumes[4]',
      'c.volumes[6]',
      'c.volumes[7]',
    ]);
    expect(warnings[0].message).toMatch(
      /^bind mount "\/etc:\/host-etc" not applied: host paths are not mounted/,
    );
  });

  it('reads a release volume declaration and warns about keys it does not know', () => {
    const warnings: TargetWarning[] = [];
    expect(
      parseVolumeConfig(
        { driver: 'local', driver_opts: { type: 'tmpfs', device: 'tmpfs' }, labels: ['a=b'], external: true },
        'v.data',
        warnings,
      ),
    ).toEqual({ driver: 'local', driverOpts: { type: 'tmpfs', device: 'tmpfs' }, labels: { a: 'b' } });
    expect(warnings).toEqual([
      { path: 'v.data.external', message: 'unsupported volume key "external" ignored' },
    ]);
    expect(parseVolumeConfig(null, 'v.data', [])).toEqual({});
    expect(() => parseVolumeConfig({ driver: 'no spaces allowed' }, 'v.data', [])).toThrow(/v\.data\.driver/);
  });
});

describe('target/composition: unchanged keys keep their hash inputs', () => {
  it('sets no new field for a composition that uses none of the new keys', () => {
    expect(parse({ command: ['sleep', '1'] }).c).toEqual({
      command: ['sleep', '1'],
      restart: 'always',
      networkMode: 'none',
      volumes: [],
      dependsOn: [],
      stopGracePeriodSec: 10,
    });
  });
});
