/**
 * The engine tests' agent is the one `npm run build` ships (issue #15), not the TypeScript
 * sources: test/helpers/shipped-agent.ts loads dist/bundle/agent.js, which only re-exports the
 * bin's own chunks, and startTestAgent starts that. These checks fail if the helpers quietly went
 * back to src/ or the entry point began to carry code the bin does not run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import type { Engine } from '../../../src/engine/types.js';
import { deviceObject, startTestAgent, unique, type TestAgent } from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { DOCKER_HOST } from '../../helpers/docker.js';
import { DEMO_1 } from '../../helpers/images.js';
import { DockerEngine, EngineUnavailableError, SHIPPED_AGENT } from '../../helpers/shipped-agent.js';
import { SHIPPED_CLI } from '../../helpers/shipped-cli.js';

const BUNDLE_DIR = path.dirname(SHIPPED_CLI);
const ROOT = path.resolve(BUNDLE_DIR, '..', '..');

interface Metafile {
  outputs: Record<
    string,
    { inputs: Record<string, { bytesInOutput: number }>; imports: { path: string; kind: string }[] }
  >;
}

/** Output files `file` loads (relative to the repository), following dynamic imports when asked. */
function loads(meta: Metafile, file: string, dynamic: boolean, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  for (const { path: imported, kind } of meta.outputs[file]?.imports ?? []) {
    if (imported in meta.outputs && (kind === 'import-statement' || (dynamic && kind === 'dynamic-import'))) {
      loads(meta, imported, dynamic, seen);
    }
  }
  return seen;
}

/**
 * The files of a stack's frames as V8 recorded them (absolute paths; node: internals and frames
 * without a file left out). Read through V8's call sites, not the formatted text: jest maps the
 * frames of a file that links a source map (the bundle does) back to the sources when it can, and
 * would name src/ for code that ran from dist/bundle.
 */
function rawStackFiles(read: () => unknown): string[] {
  const original = Error.prepareStackTrace;
  Error.prepareStackTrace = (_err, sites) => sites.map((site) => site.getFileName() ?? '');
  try {
    return (read() as string[])
      .map((file) => (file.startsWith('file://') ? fileURLToPath(file) : file))
      .filter((file) => file.startsWith('/'));
  } finally {
    Error.prepareStackTrace = original;
  }
}

/** The files of the calls that led here. */
function callerFiles(): string[] {
  return rawStackFiles(() => {
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, callerFiles);
    return holder.stack;
  });
}

describe('src/agent-entry.ts (dist/bundle/agent.js): the agent the engine tests run is the shipped one', () => {
  let t: TestAgent | undefined;
  afterAll(async () => {
    await t?.cleanup();
  });

  it('sits beside the bin, has no code of its own, loads only chunks the bin loads, among them dockerode and the agent', async () => {
    expect(SHIPPED_AGENT).toBe(path.join(BUNDLE_DIR, 'agent.js'));
    const meta = JSON.parse(await readFile(path.join(BUNDLE_DIR, 'meta.json'), 'utf8')) as Metafile;
    const agent = path.relative(ROOT, SHIPPED_AGENT);
    const bin = path.relative(ROOT, SHIPPED_CLI);

    expect(Object.values(meta.outputs[agent]!.inputs).filter((input) => input.bytesInOutput > 0)).toEqual([]);
    const agentLoads = [...loads(meta, agent, false)].filter((file) => file !== agent);
    expect(agentLoads.length).toBeGreaterThan(0);
    const binLoads = loads(meta, bin, true);
    expect(agentLoads.filter((file) => !binLoads.has(file))).toEqual([]);

    const inputs = agentLoads.flatMap((file) => Object.keys(meta.outputs[file]!.inputs));
    expect(inputs).toContain('src/agent/start-agent.ts');
    // That these chunks hold no ssh2 or gRPC/protobuf follows: test/engine/cli/bundle.test.ts
    // checks the whole bundle for them.
    expect(inputs.some((input) => input.includes('node_modules/dockerode/'))).toBe(true);
  });

  it("startTestAgent's agent calls the engine from the bundle's code, never from src/", async () => {
    const docker = new DockerEngine({ dockerHost: DOCKER_HOST });
    const calls: { op: string; files: string[] }[] = [];
    let recording = false;
    // Every engine call the agent makes records the stack it was made from: the loop, the
    // executor and the local API routes are the callers, so their files are the ones it names.
    const engine = new Proxy(docker, {
      get(target, op, receiver) {
        const value: unknown = Reflect.get(target, op, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (recording) calls.push({ op: String(op), files: callerFiles() });
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as Engine;
    t = await startTestAgent({ engine });
    recording = true; // from here on, only the agent calls it

    const appUuid = unique('app');
    const releaseUuid = unique('rel');
    await t.setTarget(
      deviceObject({
        appUuid,
        appId: 7101,
        releaseUuid,
        releaseId: 1,
        services: { main: { image: DEMO_1 } },
      }),
    );
    await waitReleaseRunning({ containers: () => docker.listContainers(t!.uuid) }, appUuid, releaseUuid);
    expect((await t.api('GET', '/v2/applications/state')).status).toBe(200);
    recording = false;

    expect(calls.map((c) => c.op)).toEqual(
      expect.arrayContaining(['listContainers', 'createContainer', 'startContainer']),
    );
    for (const { op, files } of calls) {
      // The first frame is the proxy above; the rest are the agent's.
      const callers = files.slice(1);
      expect({ op, callers: callers.length > 0 }).toEqual({ op, callers: true });
      expect({ op, outside: callers.filter((file) => !file.startsWith(`${BUNDLE_DIR}/`)) }).toEqual({
        op,
        outside: [],
      });
    }
  });

  it("the engine's errors are the bundle's classes, thrown from the bundle's files", async () => {
    const gone = new DockerEngine({ dockerHost: 'unix:///nonexistent/docker.sock' });
    const err = await gone.ping().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineUnavailableError);
    // V8 formats an error's stack when it is first read, so this reads its recorded call sites.
    const files = rawStackFiles(() => (err as Error).stack);
    expect(files[0]).toMatch(new RegExp(`^${BUNDLE_DIR}/chunks/chunk-\\w+\\.js$`));
  });
});
