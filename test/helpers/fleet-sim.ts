/**
 * The simulated fleet: a real fleet backend (temp SQLite db, 127.0.0.1, a free port) and N real
 * agents in this process, each over its own in-memory engine with its own data and lock dirs on
 * disk. Helpers push releases, wait for a rollout, restart the backend and run the fleet CLI.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli.js';
import type { DeviceView, PushedRelease, RolloutRequest } from '../../src/fleet/api-types.js';
import { FleetClient } from '../../src/fleet/client.js';
import { startFleetServer, type FleetServer } from '../../src/fleet/server.js';
import { SimDevice, startSimDevices, type SimDeviceOptions } from '../../scripts/bench/sim-device.js';
import { waitFor } from './wait.js';

export { SimDevice } from '../../scripts/bench/sim-device.js';

export const SIM_MANAGER_TOKEN = 'sim-fleet-manager-token';

export interface SimFleetOptions {
  devices: number;
  fleet?: string;
  /** Each device's pulls take a fixed time drawn from this range. Default 50-200 ms. */
  pullDelayMs?: [number, number];
  /** Default 1000 (the agent's minimum). */
  pollIntervalMs?: number;
  /** Default 300. */
  reportIntervalMs?: number;
  /** Devices started at once. Default 20. */
  startConcurrency?: number;
  device?: Pick<SimDeviceOptions, 'config' | 'agent'>;
}

/** One release as the tests push it: a single service `main` (or several) with an image each. */
export type ReleaseImages = Record<string, string>;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export class SimFleet {
  private server: FleetServer;
  private backendUp = true;

  private constructor(
    readonly root: string,
    server: FleetServer,
    readonly client: FleetClient,
    readonly fleet: string,
    readonly appId: number,
    readonly appUuid: string,
    readonly devices: SimDevice[],
  ) {
    this.server = server;
  }

  static async start(options: SimFleetOptions): Promise<SimFleet> {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-fleet-sim-'));
    const fleet = options.fleet ?? 'sim';
    let server: FleetServer | undefined;
    try {
      server = await startFleetServer({
        port: 0,
        address: '127.0.0.1',
        dbFile: path.join(root, 'fleet.db'),
        token: SIM_MANAGER_TOKEN,
      });
      const client = new FleetClient({ url: server.url, token: SIM_MANAGER_TOKEN });
      const created = await client.createFleet(fleet);
      const [minPull, maxPull] = options.pullDelayMs ?? [50, 200];
      const url = server.url;
      const devices = await startSimDevices(options.devices, options.startConcurrency ?? 20, (index) => ({
        root: path.join(root, 'devices'),
        index,
        apiEndpoint: url,
        fleet,
        provisioningKey: created.provisioningKey,
        pullDelayMs: minPull + Math.round(Math.random() * (maxPull - minPull)),
        pollIntervalMs: options.pollIntervalMs ?? 1_000,
        reportIntervalMs: options.reportIntervalMs ?? 300,
        ...options.device,
      }));
      return new SimFleet(root, server, client, fleet, created.appId, created.appUuid, devices);
    } catch (err) {
      await server?.close();
      await fs.rm(root, { recursive: true, force: true });
      throw err;
    }
  }

  get backend(): FleetServer {
    return this.server;
  }

  device(uuid: string): SimDevice {
    const found = this.devices.find((d) => d.uuid === uuid);
    if (!found) throw new Error(`no simulated device ${uuid}`);
    return found;
  }

  /**
   * Pushes a compose release (services with network_mode none and a 1s stop): the fleet's target
   * at once, or rolled out as `rollout` asks (waves, tags).
   */
  push(images: ReleaseImages, rollout?: RolloutRequest): Promise<PushedRelease> {
    return this.client.pushRelease(this.fleet, composeYaml(images), rollout);
  }

  listDevices(): Promise<DeviceView[]> {
    return this.client.listDevices(this.fleet);
  }

  /**
   * Waits until every given device (default all) reports `commit` as its running release with
   * update status `done`, as the backend's device list shows it. Returns their views.
   */
  async waitForRelease(
    commit: string,
    {
      uuids = this.devices.map((d) => d.uuid),
      timeoutMs = 30_000,
    }: { uuids?: string[]; timeoutMs?: number } = {},
  ): Promise<DeviceView[]> {
    const wanted = new Set(uuids);
    let lagging: string[] = [];
    try {
      return await waitFor(
        `${wanted.size} devices to report release ${commit.slice(0, 7)} done`,
        async () => {
          const list = (await this.listDevices()).filter((d) => wanted.has(d.uuid));
          lagging = list
            .filter((d) => !(d.reportedRelease === commit && d.updateStatus === 'done'))
            .map((d) => `${d.uuid.slice(0, 8)}:${d.reportedRelease?.slice(0, 7)}/${d.updateStatus}`);
          return lagging.length === 0 && list.length === wanted.size ? list : undefined;
        },
        timeoutMs,
        200,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; lagging: ${lagging.slice(0, 10).join(', ')}`, {
        cause: err,
      });
    }
  }

  /** Waits until `check` holds for the backend's view of every given device. */
  async waitForDevices(
    what: string,
    uuids: string[],
    check: (device: DeviceView) => boolean,
    timeoutMs = 30_000,
  ): Promise<DeviceView[]> {
    const wanted = new Set(uuids);
    return waitFor(
      what,
      async () => {
        const list = (await this.listDevices()).filter((d) => wanted.has(d.uuid));
        return list.length === wanted.size && list.every(check) ? list : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** Closes the backend (the devices keep running and start failing their polls). */
  async stopBackend(): Promise<void> {
    this.backendUp = false;
    await this.server.close();
  }

  /** A new backend on the same db file and the same port, as after a process restart. */
  async startBackend(): Promise<FleetServer> {
    this.server = await startFleetServer({
      port: this.server.port,
      address: '127.0.0.1',
      database: this.server.database,
      token: SIM_MANAGER_TOKEN,
    });
    this.backendUp = true;
    return this.server;
  }

  /** Runs `bosun fleet <args> --url <backend> --token <token>` in this process, capturing its output. */
  cli(...args: string[]): Promise<CliRun> {
    return runCli(['fleet', ...args, '--url', this.server.url, '--token', SIM_MANAGER_TOKEN]);
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.devices.map((d) => d.stop()));
    if (this.backendUp) await this.server.close();
    await fs.rm(this.root, { recursive: true, force: true });
  }
}

/** A compose file with one service per entry; each release gets a label so no two are alike. */
export function composeYaml(images: ReleaseImages): string {
  const lines = ['services:'];
  for (const [service, image] of Object.entries(images)) {
    lines.push(`  ${service}:`, `    image: ${image}`, '    network_mode: none', '    stop_grace_period: 1s');
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Runs the bosun CLI in-process (`main()`), capturing what it writes to stdout and stderr.
 * Only one run at a time: it swaps process.stdout.write while it runs.
 */
export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  const capture = (append: (text: string) => void) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((text) => (stdout += text));
  process.stderr.write = capture((text) => (stderr += text));
  try {
    const code = await main(['node', 'bosun', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
}
