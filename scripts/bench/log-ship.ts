/**
 * The agent's cost of shipping logs: a service printing about 1,000 lines a second, against the
 * same service sleeping. The fleet backend runs in this process (SQLite, 127.0.0.1); the agent is a
 * child process (`bosun agent` from the bundle the bin runs, managed mode, the real Docker engine),
 * whose CPU time and RSS are read from /proc. Goal: under 5% of a core extra, RSS flat. Printed,
 * not asserted.
 *
 * Run: npm run build && node dist/scripts/bench/log-ship.js [--seconds 30] [--node-flags='--no-opt ...']
 * (--node-flags: node flags for the agent's process, as unit-flags.ts passes the systemd unit's)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { FleetClient } from '../../src/fleet/client.js';
import { startFleetServer } from '../../src/fleet/server.js';

/** The agent as the bin ships it (what a device runs). */
const CLI = fileURLToPath(new URL('../../bundle/bosun.js', import.meta.url));
const IMAGE = '127.0.0.1:5000/bosun/demo:1';
const TOKEN = 'log-ship-bench-token';
/** Clock ticks per second of /proc/<pid>/stat times (Linux's USER_HZ). */
const CLK_TCK = 100;

const QUIET = `services:
  main:
    image: ${IMAGE}
    network_mode: none
    stop_grace_period: 1s
`;
/** 100 lines every 0.1 s: about 1,000 lines a second. */
const LOUD = `services:
  main:
    image: ${IMAGE}
    network_mode: none
    stop_grace_period: 1s
    command: ["sh", "-c", "n=0; while true; do i=0; while [ $i -lt 100 ]; do echo \\"line $n.$i: the sensor read 21.5 C, 40 % humidity\\"; i=$((i+1)); done; n=$((n+1)); usleep 100000; done"]
`;

/** The process's CPU time (user + system) in seconds, and its RSS in MB, from /proc. */
function sample(pid: number): { cpu: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return { cpu, rssMb: Number(rss) / 1024 };
}

async function measure(pid: number, seconds: number) {
  const start = sample(pid);
  const rss: number[] = [start.rssMb];
  for (let s = 0; s < seconds; s += 1) {
    await sleep(1000);
    rss.push(sample(pid).rssMb);
  }
  const cpuPercent = (100 * (sample(pid).cpu - start.cpu)) / seconds;
  return { cpuPercent, rssStart: rss[0]!, rssEnd: rss.at(-1)!, rssPeak: Math.max(...rss) };
}

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '30' }, 'node-flags': { type: 'string', default: '' } },
  });
  const nodeFlags = values['node-flags'].split(/\s+/).filter(Boolean);
  const seconds = Number(values.seconds);
  const root = await mkdtemp(path.join(tmpdir(), 'bosun-log-ship-'));
  const server = await startFleetServer({
    port: 0,
    address: '127.0.0.1',
    database: path.join(root, 'fleet.db'),
    token: TOKEN,
  });
  const client = new FleetClient({ url: server.url, token: TOKEN });
  const uuid = randomUUID().replace(/-/g, '');
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  let agent: ChildProcess | undefined;
  try {
    const { provisioningKey } = await client.createFleet('logship');
    const quiet = await client.pushRelease('logship', QUIET);
    agent = spawn(process.execPath, [...nodeFlags, CLI, 'agent'], {
      stdio: 'ignore',
      env: {
        ...process.env,
        BOSUN_API_ENDPOINT: server.url,
        BOSUN_PROVISIONING_KEY: provisioningKey,
        BOSUN_FLEET: 'logship',
        BOSUN_UUID: uuid,
        BOSUN_DATA_DIR: path.join(root, 'data'),
        BOSUN_LOCK_DIR: path.join(root, 'locks'),
        BOSUN_LISTEN_PORT: '0',
        BOSUN_POLL_INTERVAL_MS: '1000',
        BOSUN_UPDATE_PROBATION: '0',
        BOSUN_LOG_LEVEL: 'warn',
      },
    });
    const pid = agent.pid!;
    const runs = async (commit: string) =>
      (await client.listDevices('logship')).some(
        (d) => d.reportedRelease === commit && d.updateStatus === 'done',
      );
    await waitUntil('the quiet release running', () => runs(quiet.commit));
    await sleep(3000);
    const idle = await measure(pid, seconds);

    const loud = await client.pushRelease('logship', LOUD);
    await waitUntil('the loud release running', () => runs(loud.commit));
    await sleep(3000);
    const lastId = async () =>
      Number(
        (await server.store.db.get<{ n: number | string | null }>('SELECT MAX(id) AS n FROM device_logs'))
          ?.n ?? 0,
      );
    const before = await lastId();
    const shipping = await measure(pid, seconds);
    const linesPerSecond = ((await lastId()) - before) / seconds;

    const row = (name: string, a: string, b: string) =>
      `${name.padEnd(28)}${a.padStart(12)}${b.padStart(14)}`;
    const out = [
      `log-ship: ${seconds} s per phase; agent pid ${pid}`,
      row('', 'quiet', '~1000 lines/s'),
      row('lines shipped per second', '-', linesPerSecond.toFixed(0)),
      row('agent CPU % of one core', idle.cpuPercent.toFixed(2), shipping.cpuPercent.toFixed(2)),
      row('agent RSS start (MB)', idle.rssStart.toFixed(1), shipping.rssStart.toFixed(1)),
      row('agent RSS end (MB)', idle.rssEnd.toFixed(1), shipping.rssEnd.toFixed(1)),
      row('agent RSS peak (MB)', idle.rssPeak.toFixed(1), shipping.rssPeak.toFixed(1)),
      '',
      `extra CPU for shipping: ${(shipping.cpuPercent - idle.cpuPercent).toFixed(2)}% of a core (goal < 5%)`,
      `RSS drift while shipping: ${(shipping.rssEnd - shipping.rssStart).toFixed(1)} MB (goal: flat)`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    agent?.kill('SIGTERM');
    await new Promise((resolve) => (agent ? agent.once('exit', resolve) : resolve(undefined)));
    const left = await docker.listContainers({
      all: true,
      filters: { label: [`io.bosun.device-uuid=${uuid}`] },
    });
    await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`log-ship: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
