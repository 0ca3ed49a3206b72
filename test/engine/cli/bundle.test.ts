/**
 * The bundle the `bosun` bin runs (dist/bundle/bosun.js, from `npm run build`), as a device runs
 * it: a child process against the real engine and registry. It is built without ssh2 and
 * gRPC/protobuf, so this checks that nothing the agent uses went with them: a pull, a volume, a
 * container started and then replaced, the local API, a clean stop; and that an ssh:// engine is
 * refused at start. `bosun fleet serve` runs from the same bundle.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DockerEngine } from '../../helpers/shipped-agent.js';
import { deviceObject, rawApi, unique, waitFor } from '../../helpers/agent.js';
import { DOCKER_HOST, removeContainersOf, requireEngine, uniqueDeviceUuid } from '../../helpers/docker.js';
import { DEMO_2, freshImage } from '../../helpers/images.js';

const BUNDLE = fileURLToPath(new URL('../../../dist/bundle/bosun.js', import.meta.url));
const METAFILE = fileURLToPath(new URL('../../../dist/bundle/meta.json', import.meta.url));
const AGENT_MODULE = fileURLToPath(new URL('../../../dist/bundle/agent.js', import.meta.url));
const execFileAsync = promisify(execFile);
const API_KEY = 'bundle-test-key';

/** The bundled CLI as a child process, its output kept. */
class BundledCli {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stdout = '';
  stderr = '';

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [BUNDLE, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until `pattern` matches the output, failing early (with the output) if the process exits. */
  async output(pattern: RegExp, what: string, timeoutMs = 20_000): Promise<RegExpExecArray> {
    return waitFor(
      what,
      () => {
        const match = pattern.exec(this.stdout + this.stderr);
        if (match) return match;
        if (!this.running)
          throw new Error(`exited before ${what}:\n${(this.stdout + this.stderr).slice(-2000)}`);
        return undefined;
      },
      timeoutMs,
      50,
    );
  }
}

describe('dist/bundle/bosun.js (real engine): the bundled CLI', () => {
  const engine = new DockerEngine({ dockerHost: DOCKER_HOST });
  const uuid = uniqueDeviceUuid();
  const children: BundledCli[] = [];
  let root: string;

  const run = (args: string[], env: Record<string, string>) => {
    const cli = new BundledCli(args, env);
    children.push(cli);
    return cli;
  };

  beforeAll(async () => {
    await requireEngine(engine);
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run npm run build first`);
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-bundle-'));
  });
  afterAll(async () => {
    for (const cli of children) if (cli.running) cli.child.kill('SIGKILL');
    await removeContainersOf(uuid);
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  it("leaves out ssh2, gRPC/protobuf and got's HTTP/2 transport", async () => {
    const meta = JSON.parse(await fs.readFile(METAFILE, 'utf8')) as { inputs: Record<string, unknown> };
    const inputs = Object.keys(meta.inputs);
    expect(inputs.some((input) => input.includes('node_modules/dockerode/'))).toBe(true);
    for (const left of ['ssh2', '@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'http2-wrapper']) {
      expect(inputs.filter((input) => input.includes(`node_modules/${left}/`))).toEqual([]);
    }
  });

  it('loads the agent without building an ICU list formatter or loading node:http2', async () => {
    // got's type checker builds two Intl.ListFormat at import; the bundle defers them to first use
    // (scripts/build/lazy-list-format.ts). Without that, this counts 2.
    const script = [
      'let built = 0;',
      'Intl.ListFormat = new Proxy(Intl.ListFormat, { construct(t, a) { built += 1; return new t(...a); } });',
      `const agent = await import(${JSON.stringify(pathToFileURL(AGENT_MODULE).href)});`,
      "if (typeof agent.startAgent !== 'function') throw new Error('no startAgent');",
      "console.log(JSON.stringify({ built, http2: process.moduleLoadList.includes('NativeModule http2') }));",
    ].join('\n');
    const { stdout } = await execFileAsync(process.execPath, ['--input-type=module', '-e', script]);
    expect(JSON.parse(stdout)).toEqual({ built: 0, http2: false });
  });

  it('runs `bosun agent` in local mode: pulls and starts the preloaded release, answers, moves on, stops on SIGTERM', async () => {
    const image = await freshImage('bundle'); // only the registry has it: the agent must pull
    const appUuid = unique('app');
    const appId = 8801;
    const r1 = unique('rel');
    const targetFile = path.join(root, 'target.json');
    await fs.writeFile(
      targetFile,
      JSON.stringify(
        deviceObject({
          appUuid,
          appId,
          releaseUuid: r1,
          releaseId: 1,
          volumes: { store: {} },
          services: { main: { image, composition: { volumes: ['store:/store'] } } },
        }),
      ),
    );
    const agent = run(['agent'], {
      BOSUN_API_ENDPOINT: '',
      BOSUN_UUID: uuid,
      BOSUN_API_KEY: API_KEY,
      BOSUN_DATA_DIR: path.join(root, 'data'),
      BOSUN_LOCK_DIR: path.join(root, 'locks'),
      BOSUN_LISTEN_PORT: '0',
      BOSUN_TARGET_STATE_FILE: targetFile,
      BOSUN_LOG_LEVEL: 'info',
      DOCKER_HOST,
    });
    const port = Number(
      (await agent.output(/"port":(\d+)[^\n]*"msg":"local API listening"/, 'the local API'))[1],
    );

    const running = await waitFor('release 1 running', async () => {
      const cs = await engine.listContainers(uuid);
      return cs.length === 1 && cs[0]!.releaseUuid === r1 && cs[0]!.status === 'running' ? cs[0] : undefined;
    });
    expect(running.image).toBe(image);
    expect((await engine.listVolumes(uuid)).map((v) => v.name)).toEqual([`bosun_${uuid}_${appId}_store`]);

    const ping = await rawApi(port, 'GET', '/ping');
    expect(ping).toMatchObject({ status: 200, text: 'OK' });
    const auth = { headers: { Authorization: `Bearer ${API_KEY}` } };
    const metrics = await rawApi(port, 'GET', '/metrics', auth);
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('# TYPE bosun_applies_total counter');
    expect(metrics.text).toContain('bosun_process_resident_memory_bytes');

    // The next release replaces the container: stop, remove, create, start through the bundle.
    const r2 = unique('rel');
    const posted = await rawApi(port, 'POST', '/v2/local/target-state', {
      ...auth,
      body: deviceObject({
        appUuid,
        appId,
        releaseUuid: r2,
        releaseId: 2,
        volumes: { store: {} },
        services: { main: { image: DEMO_2, composition: { volumes: ['store:/store'] } } },
      }),
    });
    expect(posted.status).toBe(200);
    await waitFor('release 2 running alone', async () => {
      const cs = await engine.listContainers(uuid);
      return cs.length === 1 && cs[0]!.releaseUuid === r2 && cs[0]!.status === 'running';
    });
    const state = await rawApi(port, 'GET', '/v2/applications/state', auth);
    expect(JSON.stringify(state.body)).toContain(r2);

    agent.child.kill('SIGTERM');
    expect(await agent.exited).toEqual({ code: 0, signal: null });
    expect(agent.stdout).toContain('"msg":"agent stopped"');
    expect(agent.stderr).toBe('');
  });

  it('refuses an ssh:// DOCKER_HOST at start: exit 2, one line', async () => {
    const agent = run(['agent'], {
      BOSUN_API_ENDPOINT: '',
      BOSUN_DATA_DIR: path.join(root, 'ssh-data'),
      BOSUN_LOCK_DIR: path.join(root, 'ssh-locks'),
      BOSUN_LISTEN_PORT: '0',
      DOCKER_HOST: 'ssh://x',
    });
    expect(await agent.exited).toEqual({ code: 2, signal: null });
    expect(agent.stdout).toBe('');
    expect(agent.stderr.split('\n')).toEqual([expect.stringMatching(/^bosun: .*DOCKER_HOST.*ssh:\/\//), '']);
    expect(agent.stderr).toContain('not supported');
    expect(existsSync(path.join(root, 'ssh-data'))).toBe(false);
  });

  it('runs `bosun fleet serve` (SQLite, loaded from node_modules) and a fleet manager verb', async () => {
    const token = 'bundle-fleet-token';
    const db = path.join(root, 'fleet.db');
    const server = run(
      ['fleet', 'serve', '--port', '0', '--address', '127.0.0.1', '--db', db, '--token', token],
      {
        BOSUN_LOG_LEVEL: 'warn',
      },
    );
    const url = (await server.output(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 'the fleet backend'))[1]!;
    const create = run(['fleet', 'create', 'bundled', '--url', url, '--token', token], {});
    expect(await create.exited).toEqual({ code: 0, signal: null });
    expect(create.stdout).toContain('created fleet bundled');
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
