/**
 * App networks on the real engine (contract section 9, "Networks" and "The local API from a
 * bridge network"). Traffic stays on this machine: between this file's own containers on the
 * bridges the agent (or this file) made, to the agent's own listener on a bridge gateway, and to
 * 127.0.0.1. A container looks up only names the test has first seen, by inspect, as aliases on
 * its own network.
 */
import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Docker from 'dockerode';
import { deviceObject, startTestAgent, unique, waitFor, type TestAgent } from '../../helpers/agent.js';
import { containerEnv, shellIn, waitReleaseRunning } from '../../helpers/containers.js';
import { uniqueDeviceUuid } from '../../helpers/docker.js';
import { DEMO_1 } from '../../helpers/images.js';

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const run = promisify(execFile);

/** busybox httpd serving `text` at /x on port 8080 (init: true, so it stops on SIGTERM). */
function httpd(text: string, composition: Record<string, unknown> = {}) {
  return {
    image: DEMO_1,
    composition: {
      network_mode: undefined,
      init: true,
      command: ['sh', '-c', `mkdir -p /www && echo ${text} > /www/x && exec httpd -f -p 8080 -h /www`],
      ...composition,
    },
  };
}

/** The demo app's idle loop, on the app's networks. */
function idle(composition: Record<string, unknown> = {}) {
  return { image: DEMO_1, composition: { network_mode: undefined, ...composition } };
}

/** deviceObject with release-level networks (deviceObject itself declares none). */
function withNetworks(device: Record<string, unknown>, networks: Record<string, unknown>) {
  const apps = device.apps as Record<string, { releases: Record<string, { networks: unknown }> }>;
  for (const app of Object.values(apps))
    for (const release of Object.values(app.releases)) release.networks = networks;
  return device;
}

/** The aliases of a container on a network, as docker inspect shows them. */
async function aliasesOn(containerId: string, network: string): Promise<string[]> {
  const raw = await docker.getContainer(containerId).inspect();
  return raw.NetworkSettings.Networks[network]?.Aliases ?? [];
}

/** Runs `wget` inside the container until it answers (a server may still be starting). */
function wgetIn(containerId: string, url: string): Promise<string> {
  return waitFor(`wget ${url} in ${containerId.slice(0, 12)}`, async () => {
    const body = await shellIn(containerId, `wget -q -O- ${url}`);
    return body.trim() === '' ? undefined : body.trim();
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Whether a TCP socket listens on `address:port` on this host (read from ss: no traffic sent). */
async function listensOn(address: string, port: number): Promise<boolean> {
  const { stdout } = await run('ss', ['-ltnH']);
  return stdout.split('\n').some((line) => line.split(/\s+/).includes(`${address}:${port}`));
}

/** A unique /24 in 10.213.0.0/16, which Docker's default pools never hand out. */
function subnet(): { subnet: string; gateway: string; third: number } {
  const third = 1 + (process.pid % 250);
  return { subnet: `10.213.${third}.0/24`, gateway: `10.213.${third}.1`, third };
}

describe('app networks on the real engine (contract section 9)', () => {
  let t: TestAgent;
  beforeAll(async () => {
    t = await startTestAgent();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('two services reach each other by service name over their default network; an unchanged release restarts nothing', async () => {
    const appUuid = unique('app');
    const rel = unique('rel');
    const device = deviceObject({
      appUuid,
      appId: 9401,
      releaseUuid: rel,
      releaseId: 1,
      services: { web: httpd('hello-from-web'), client: idle() },
    });
    await t.setTarget(device);
    const running = await waitReleaseRunning(t, appUuid, rel, ['web', 'client']);
    const network = await docker.getNetwork('9401_default').inspect();
    expect(network.Labels).toMatchObject({
      'io.balena.supervised': 'true',
      'io.balena.app-id': '9401',
      'io.bosun.device-uuid': t.uuid,
    });
    expect(Object.keys(network.Containers ?? {}).sort()).toEqual(
      [running.web!.id, running.client!.id].sort(),
    );
    expect(await aliasesOn(running.web!.id, '9401_default')).toContain('web');

    expect(await wgetIn(running.client!.id, 'http://web:8080/x')).toBe('hello-from-web');

    // The same release again: nothing is recreated or restarted, the network stays.
    const started = Object.fromEntries(Object.values(running).map((c) => [c.id, c.startedAt]));
    await t.setTarget(structuredClone(device));
    await t.agent.loop.nextPass();
    await t.agent.loop.nextPass();
    const after = await t.containers();
    expect(Object.fromEntries(after.map((c) => [c.id, c.startedAt]))).toEqual(started);
    expect((await docker.getNetwork('9401_default').inspect()).Id).toBe(network.Id);
  });

  it('a changed network configuration recreates that network and its containers, and nothing else', async () => {
    const appUuid = unique('app');
    const rel = unique('rel');
    const services = {
      web: httpd('front', { networks: ['front'] }),
      client: idle({ networks: ['front'] }),
      db: idle({ networks: ['back'] }),
    };
    const make = (frontLabels: Record<string, string>) =>
      withNetworks(deviceObject({ appUuid, appId: 9402, releaseUuid: rel, releaseId: 1, services }), {
        front: { labels: frontLabels },
        back: { internal: true },
      });
    await t.setTarget(make({ tier: 'a' }));
    const before = await waitReleaseRunning(t, appUuid, rel, ['web', 'client', 'db']);
    const front = await docker.getNetwork('9402_front').inspect();
    const back = await docker.getNetwork('9402_back').inspect();
    expect(back.Internal).toBe(true);

    await t.setTarget(make({ tier: 'b' }));
    const after = await waitFor('web and client recreated', async () => {
      const now = await waitReleaseRunning(t, appUuid, rel, ['web', 'client', 'db']);
      return now.web!.id !== before.web!.id && now.client!.id !== before.client!.id ? now : undefined;
    });
    const newFront = await docker.getNetwork('9402_front').inspect();
    expect(newFront.Id).not.toBe(front.Id);
    expect(newFront.Labels?.tier).toBe('b');
    expect(after.db!.id).toBe(before.db!.id);
    expect(after.db!.startedAt).toBe(before.db!.startedAt);
    expect((await docker.getNetwork('9402_back').inspect()).Id).toBe(back.Id);
    expect(await aliasesOn(after.web!.id, '9402_front')).toContain('web');
    expect(await wgetIn(after.client!.id, 'http://web:8080/x')).toBe('front');
  });

  it('network_mode service:web shares the web service stack and starts after it', async () => {
    const appUuid = unique('app');
    const rel = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 9403,
        releaseUuid: rel,
        releaseId: 1,
        services: { side: idle({ network_mode: 'service:web' }), web: httpd('shared') },
      }),
    );
    const running = await waitReleaseRunning(t, appUuid, rel, ['web', 'side']);
    const side = await docker.getContainer(running.side!.id).inspect();
    const web = await docker.getContainer(running.web!.id).inspect();
    expect(side.HostConfig.NetworkMode).toMatch(/^container:/);
    expect(Date.parse(side.State.StartedAt)).toBeGreaterThanOrEqual(Date.parse(web.State.StartedAt));
    // Loopback of the shared stack: the web server answers on the side container's 127.0.0.1.
    expect(await wgetIn(running.side!.id, 'http://127.0.0.1:8080/x')).toBe('shared');
  });

  it('a service on a bridge finds the local API at its gateway; the listener goes with the network', async () => {
    const appUuid = unique('app');
    const rel = unique('rel');
    await t.setTarget(
      deviceObject({ appUuid, appId: 9404, releaseUuid: rel, releaseId: 1, services: { main: idle() } }),
    );
    const { main } = await waitReleaseRunning(t, appUuid, rel);
    const gateway = (await docker.getNetwork('9404_default').inspect()).IPAM?.Config?.[0]?.Gateway;
    expect(gateway).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const env = await containerEnv(main!.id);
    expect(env.BALENA_SUPERVISOR_ADDRESS).toBe(`http://${gateway}:${t.agent.apiPort}`);
    expect(env.BALENA_SUPERVISOR_HOST).toBe(gateway);
    expect(env.BALENA_SUPERVISOR_PORT).toBe(String(t.agent.apiPort));
    expect(await wgetIn(main!.id, '"$BALENA_SUPERVISOR_ADDRESS/ping"')).toBe('OK');
    expect(await listensOn('0.0.0.0', t.agent.apiPort)).toBe(false);

    // The app goes: its network goes once nothing is attached, and the listener with it.
    await t.setTarget({ name: 'test-device', config: {}, apps: {} });
    await waitFor('network 9404_default removed', async () => {
      const left = await docker.listNetworks({ filters: { name: ['9404_default'] } });
      return left.every((n) => n.Name !== '9404_default');
    });
    await waitFor('gateway listener closed', async () => !(await listensOn(gateway!, t.agent.apiPort)));
  });

  it('publishes a port on 127.0.0.1 from a bridge service, set through the balena v2 local shape', async () => {
    const port = await freePort();
    const net24 = subnet();
    const body = {
      local: {
        name: 'test-device',
        config: {},
        apps: {
          '9405': {
            name: 'v2-app',
            commit: unique('rel'),
            releaseId: 1,
            services: {
              '1': {
                serviceName: 'web',
                imageId: 1,
                image: DEMO_1,
                networks: ['default'],
                ports: [`127.0.0.1:${port}:8080`],
                init: true,
                command: [
                  'sh',
                  '-c',
                  'mkdir -p /www && echo published > /www/x && exec httpd -f -p 8080 -h /www',
                ],
              },
            },
            networks: { default: { ipam: { config: [{ subnet: net24.subnet, gateway: net24.gateway }] } } },
          },
        },
      },
    };
    const reply = await t.api('POST', '/v2/local/target-state', body);
    expect(reply.status).toBe(200);
    const network = await waitFor('network 9405_default', async () => {
      const found = await docker.listNetworks({ filters: { name: ['9405_default'] } });
      return found.find((n) => n.Name === '9405_default');
    });
    expect(network.IPAM?.Config?.[0]).toMatchObject({ Subnet: net24.subnet, Gateway: net24.gateway });
    const answer = await waitFor(`http://127.0.0.1:${port}/x`, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/x`);
      return res.ok ? (await res.text()).trim() : undefined;
    });
    expect(answer).toBe('published');
  });

  it('refuses a release whose network name another device owns, and leaves that network alone', async () => {
    const appUuid = unique('app');
    const rel = unique('rel');
    const other = uniqueDeviceUuid();
    const foreign = await docker.createNetwork({
      Name: '9406_default',
      CheckDuplicate: true,
      Labels: { 'io.bosun.device-uuid': other, 'io.balena.app-id': '9406' },
    });
    try {
      await t.setTarget(
        deviceObject({ appUuid, appId: 9406, releaseUuid: rel, releaseId: 1, services: { main: idle() } }),
      );
      const status = await waitFor(
        'the app shows the conflict',
        () => t.agent.loop.status.apps[appUuid]?.error,
      );
      expect(status).toMatch(/network 9406_default already exists .* belongs to device/);
      const state = await t.api('GET', '/v2/state/status');
      expect(JSON.stringify(state.body)).toContain(appUuid);
      expect((await t.containers()).filter((c) => c.appUuid === appUuid)).toEqual([]);
      const still = await foreign.inspect();
      expect(still.Labels).toEqual({ 'io.bosun.device-uuid': other, 'io.balena.app-id': '9406' });
      expect(Object.keys(still.Containers ?? {})).toEqual([]);
    } finally {
      await t.setTarget({ name: 'test-device', config: {}, apps: {} });
      await foreign.remove();
    }
  });
});
