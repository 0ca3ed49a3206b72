/**
 * Bundles the CLI (`bosun agent`, `bosun fleet ...`) with esbuild into dist/bundle/, the file the
 * `bosun` bin runs. Run by `npm run build` after tsc (which still builds dist/src for the
 * benchmarks and scripts/demo.sh).
 *
 * What the bundle leaves out: the engine transports and build features bosun never uses, which
 * dockerode and docker-modem load at require time. ssh2 (for `ssh://` engines; its WebAssembly
 * poly1305 alone reserves 16 MB) and gRPC/protobuf (BuildKit sessions and BuildKit progress
 * decoding) become empty modules. bosun reaches the engine over a unix socket or TCP only, and
 * an `ssh://` DOCKER_HOST is refused when the configuration is read (src/config/schema.ts), so
 * nothing in the bundle ever calls into them. No dockerode file is changed and nothing hooks
 * `require` at run time: the bundler simply resolves those package names to an empty module.
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
 * Writes dist/bundle/meta.json (esbuild's metafile) and fails if a left-out package slipped in
 * by another path.
 *
 * Copies the dashboard's files (plain browser modules and CSS, served by `bosun fleet serve`)
 * from src/fleet/dashboard to dist/dashboard, where code running from dist looks for them.
 */
import { build, type Metafile, type Plugin } from 'esbuild';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Packages resolved to an empty module, with what they are for. */
const LEFT_OUT: Record<string, string> = {
  ssh2: 'docker-modem: ssh:// engines',
  '@grpc/grpc-js': 'dockerode: BuildKit sessions',
  '@grpc/proto-loader': 'dockerode: BuildKit sessions',
  protobufjs: 'dockerode: BuildKit sessions and progress decoding',
};

/** Native addons: loaded by Node from node_modules at run time. */
const EXTERNAL = ['better-sqlite3'];

const LEFT_OUT_NAMESPACE = 'bosun-left-out';

function leaveOut(packages: string[]): Plugin {
  const escaped = packages.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  const filter = new RegExp(`^(${escaped.join('|')})(/.*)?$`);
  return {
    name: 'bosun-leave-out',
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: LEFT_OUT_NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: LEFT_OUT_NAMESPACE }, (args) => ({
        contents: `// ${args.path}: left out of the bosun bundle (scripts/build/bundle.ts)\nmodule.exports = {};\n`,
        loader: 'js',
      }));
    },
  };
}

/**
 * CommonJS dependencies call `require` for Node's built-in modules, and a few read `__dirname`;
 * an ES module has neither, so each output file defines them for itself.
 */
const BANNER = [
  "import { createRequire as __bosunCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bosunFileURLToPath } from 'node:url';",
  "import { dirname as __bosunDirname } from 'node:path';",
  'const require = __bosunCreateRequire(import.meta.url);',
  'const __filename = __bosunFileURLToPath(import.meta.url);',
  'const __dirname = __bosunDirname(__filename);',
].join('\n');

async function bundle(root: string): Promise<void> {
  const outdir = path.join(root, 'dist', 'bundle');
  // Chunk names carry content hashes: stale ones from an earlier build would pile up.
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { bosun: 'src/cli.ts', agent: 'src/agent-entry.ts' },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [leaveOut(Object.keys(LEFT_OUT))],
    banner: { js: BANNER },
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  await writeFile(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));

  const slipped = Object.keys(result.metafile.inputs).filter((input) =>
    Object.keys(LEFT_OUT).some((name) => input.includes(`node_modules/${name}/`)),
  );
  if (slipped.length > 0) {
    throw new Error(`left-out packages reached the bundle by another path:\n  ${slipped.join('\n  ')}`);
  }
  checkAgentEntry(result.metafile, path.relative(root, outdir));
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
