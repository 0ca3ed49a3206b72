/**
 * Bundles the CLI (`bosun agent`, `bosun fleet ...`) with esbuild into dist/bundle/, the file the
 * `bosun` bin runs. Run by `npm run build` after tsc (which still builds dist/src for the
 * benchmarks and scripts/demo.sh).
 *
 * What it leaves out and how it is minified: scripts/build/bundle-options.ts.
 *
 * Native addons stay outside (better-sqlite3, for the fleet backend): Node loads them from
 * node_modules as before. Dynamic imports become chunks of their own (`splitting`), so
 * `bosun agent` never reads the fleet backend's code and the reverse.
 *
 * A second entry point, dist/bundle/agent.js (src/agent-entry.ts), exports the agent as a module
 * for the engine tests, which start agents in their own process (test/helpers/shipped-agent.ts):
 * `npm test` runs them against this build, not against the TypeScript sources. Being in the same
 * split build, it shares its chunks with the bin, and the build fails if agent.js carries any code
 * of its own, or loads a chunk the bin never loads: what the tests run is what the bin runs.
 *
 * The local API (fastify, its router and ajv, the routes) is built on its first request
 * (src/api/front.ts), and the fleet verbs are loaded for `bosun fleet` alone (src/cli.ts): the
 * build fails if any of them is in a chunk `bosun agent` loads at start.
 *
 * Writes dist/bundle/meta.json (esbuild's metafile) and fails if a left-out package slipped in
 * by another path.
 *
 * Copies the dashboard's files (plain browser modules and CSS, served by `bosun fleet serve`)
 * from src/fleet/dashboard to dist/dashboard, where code running from dist looks for them.
 */
import { build, type Metafile } from 'esbuild';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleOptions, leftOutInputs } from './bundle-options.js';

async function bundle(root: string): Promise<void> {
  const outdir = path.join(root, 'dist', 'bundle');
  // Chunk names carry content hashes: stale ones from an earlier build would pile up.
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    ...bundleOptions(root),
    entryPoints: { bosun: 'src/cli.ts', agent: 'src/agent-entry.ts' },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
  });
  await writeFile(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));

  const slipped = leftOutInputs(Object.keys(result.metafile.inputs));
  if (slipped.length > 0) {
    throw new Error(`left-out packages reached the bundle by another path:\n  ${slipped.join('\n  ')}`);
  }
  checkAgentEntry(result.metafile, path.relative(root, outdir));
  checkAgentStart(result.metafile, path.relative(root, outdir));
}

/** The output files `file` loads: its static imports, and with `dynamic` its dynamic ones, transitively. */
function loadedOutputs(meta: Metafile, file: string, dynamic: boolean): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const imported of meta.outputs[name]?.imports ?? []) {
      if (imported.external) continue;
      if (imported.kind === 'import-statement' || (dynamic && imported.kind === 'dynamic-import')) {
        visit(imported.path);
      }
    }
  };
  visit(file);
  return seen;
}

/**
 * agent.js is for testing the bin's code, so it must be nothing but a door into the bin's own
 * chunks: code only it reaches (an export of something the bin never runs) would be put into
 * agent.js itself or a chunk of its own, and tested as if shipped.
 */
function checkAgentEntry(meta: Metafile, outdir: string): void {
  const agent = path.posix.join(outdir, 'agent.js');
  const own = Object.entries(meta.outputs[agent]?.inputs ?? {}).filter(
    ([, input]) => input.bytesInOutput > 0,
  );
  const binLoads = loadedOutputs(meta, path.posix.join(outdir, 'bosun.js'), true);
  const notTheBins = [...loadedOutputs(meta, agent, false)].filter(
    (file) => file !== agent && !binLoads.has(file),
  );
  if (!meta.outputs[agent] || own.length > 0 || notTheBins.length > 0) {
    throw new Error(
      `${agent} must only re-export what the bin runs (src/agent-entry.ts); ` +
        `code of its own: ${own.map(([input]) => input).join(', ') || 'none'}; ` +
        `chunks the bin never loads: ${notTheBins.join(', ') || 'none'}`,
    );
  }
}

/**
 * What `bosun agent` imports on first use only, if ever: the local API's app (src/api/lazy-app.ts
 * builds it on the first request) and the fleet verbs (src/cli.ts loads them for `bosun fleet`).
 */
const NOT_AT_AGENT_START = [/^src\/api\/server\.ts$/, /(^|\/)node_modules\/fastify\//, /^src\/fleet\//];
const AGENT_START = 'src/agent/start-agent.ts';

/**
 * What `bosun agent` loads at start (the bin and what it loads statically, then the chunk holding
 * the agent, which the CLI imports for `bosun agent`, and what that loads statically) must hold
 * none of NOT_AT_AGENT_START: an idle agent would carry it again.
 */
function checkAgentStart(meta: Metafile, outdir: string): void {
  const agentChunk = Object.keys(meta.outputs).find((file) => meta.outputs[file]!.inputs[AGENT_START]);
  if (!agentChunk) throw new Error(`no output holds ${AGENT_START}`);
  const atStart = new Set([
    ...loadedOutputs(meta, path.posix.join(outdir, 'bosun.js'), false),
    ...loadedOutputs(meta, agentChunk, false),
  ]);
  const eager = [...atStart].flatMap((file) =>
    Object.keys(meta.outputs[file]!.inputs)
      .filter((input) => NOT_AT_AGENT_START.some((lazy) => lazy.test(input)))
      .map((input) => `${input} (in ${file})`),
  );
  if (eager.length > 0) {
    throw new Error(
      `bosun agent must load the local API's app and the fleet verbs on first use, but loads at start:\n  ` +
        eager.slice(0, 5).join('\n  '),
    );
  }
}

async function copyDashboard(root: string): Promise<void> {
  const target = path.join(root, 'dist', 'dashboard');
  await rm(target, { recursive: true, force: true });
  await cp(path.join(root, 'src', 'fleet', 'dashboard'), target, { recursive: true });
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
Promise.all([bundle(root), copyDashboard(root)]).catch((err: unknown) => {
  process.stderr.write(`bundle: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
