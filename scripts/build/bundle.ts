/**
 * Bundles the CLI (`bosun agent`, `bosun fleet ...`) with esbuild into dist/bundle/, the file the
 * `bosun` bin runs. Run by `npm run build` after tsc (which still builds dist/src for the tests
 * and the benchmarks).
 *
 * What it leaves out and how it is minified: scripts/build/bundle-options.ts.
 *
 * Native addons stay outside (better-sqlite3, for the fleet backend): Node loads them from
 * node_modules as before. Dynamic imports become chunks of their own (`splitting`), so
 * `bosun agent` never reads the fleet backend's code and the reverse.
 *
 * Writes dist/bundle/meta.json (esbuild's metafile) and fails if a left-out package slipped in
 * by another path.
 *
 * Copies the dashboard's files (plain browser modules and CSS, served by `bosun fleet serve`)
 * from src/fleet/dashboard to dist/dashboard, where code running from dist looks for them.
 */
import { build } from 'esbuild';
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
    entryPoints: { bosun: 'src/cli.ts' },
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
