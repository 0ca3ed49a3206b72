import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type * as AgentEntry from '../../src/agent-entry.js';
import { SHIPPED_CLI } from './shipped-cli.js';

/**
 * The agent as `npm run build` ships it, for the engine tests: dist/bundle/agent.js, the bundle's
 * second entry point (src/agent-entry.ts), built in the same esbuild run as the bin and sharing
 * every chunk with it. The engine tests start agents in their own process, and they take
 * `startAgent`, `DockerEngine`, the logger, the config loader and the error classes from here,
 * never from src/, so what they test is the code a device runs (issue #15: the same tests pass
 * against the bundle). Types still come from the sources: the module is typed as its source.
 *
 * Jest loads the bundle through its own ESM loader, untransformed (only .ts files are), so the
 * code runs as built: its banner's `createRequire(import.meta.url)` and `__dirname` point into
 * dist/bundle as in the bin.
 *
 * What may still come from src/ in an engine test: types, constants and pure functions a test
 * computes its expectations with, and the tools that observe or clean up the engine behind the
 * agent's back (test/helpers/docker.ts). The in-memory engine is not in the bundle (the bin never
 * runs it); a source-side engine handed to the shipped agent works by its shape, but the errors it
 * throws are the source's classes, which the shipped code's `instanceof` checks do not know.
 */
export const SHIPPED_AGENT = path.join(path.dirname(SHIPPED_CLI), 'agent.js');
const METAFILE = path.join(path.dirname(SHIPPED_CLI), 'meta.json');

/**
 * A bundle older than a file it was built from would test yesterday's code while the sources say
 * otherwise, so it fails here rather than passing or failing for the wrong reason. `npm test`
 * builds before jest; this is for running jest alone after an edit.
 */
function requireFreshBundle(): void {
  if (!existsSync(SHIPPED_AGENT) || !existsSync(METAFILE)) {
    throw new Error(`${SHIPPED_AGENT} is missing: run npm run build first`);
  }
  const builtAt = statSync(SHIPPED_AGENT).mtimeMs;
  const root = path.resolve(path.dirname(SHIPPED_CLI), '..', '..');
  const { inputs } = JSON.parse(readFileSync(METAFILE, 'utf8')) as { inputs: Record<string, unknown> };
  // Inputs in esbuild's own namespaces (the left-out packages' empty modules) are not files. An
  // input gone since the build (a file renamed or deleted) makes the bundle stale as well.
  const newer = Object.keys(inputs)
    .filter((input) => !/^[\w-]+:/.test(input))
    .filter((input) => {
      const file = path.resolve(root, input);
      return !existsSync(file) || statSync(file).mtimeMs > builtAt;
    });
  if (newer.length > 0) {
    throw new Error(
      `${SHIPPED_AGENT} is stale: ${newer.length} of its sources changed since the build (${newer.slice(0, 3).join(', ')}): run npm run build first`,
    );
  }
}

requireFreshBundle();
const shipped = (await import(SHIPPED_AGENT)) as typeof AgentEntry;

export const {
  startAgent,
  AlreadyRunningError,
  lockDataDir,
  loadConfig,
  DockerEngine,
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageInUseError,
  ImageNotFoundError,
  NameConflictError,
  NotFoundError,
  PullError,
  UnsafePathError,
  BosunError,
  ConfigError,
  createLogger,
  silentLogger,
} = shipped;
export type { AgentOptions, RunningAgent } from '../../src/agent-entry.js';
