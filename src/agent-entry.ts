/**
 * The bundle's second entry point (dist/bundle/agent.js, beside the bin's dist/bundle/bosun.js):
 * the agent as a module, for the engine tests, which start agents in their own process and must
 * test the code `npm run build` ships, not the TypeScript sources (test/helpers/shipped-agent.ts).
 *
 * It is built in the same esbuild run as the bin, with code splitting, so every module it reaches
 * is in a chunk the bin loads too: the code under test is the bin's code, byte for byte. The
 * build fails if this file pulls in anything the bin never runs (scripts/build/bundle.ts), which
 * is why it only re-exports, and only what the bin reaches: no in-memory engine, no test helper.
 *
 * The error classes are here because tests classify errors with `instanceof`: an error thrown by
 * the bundle's code is an instance of the bundle's class, never of the source's class of the same
 * name.
 */
export { startAgent, type AgentOptions, type RunningAgent } from './agent/start-agent.js';
export { AlreadyRunningError, lockDataDir } from './agent/instance-lock.js';
export { loadConfig } from './config/load.js';
export { DockerEngine } from './engine/docker-engine.js';
export {
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageInUseError,
  ImageNotFoundError,
  NameConflictError,
  NotFoundError,
  PullError,
} from './engine/errors.js';
export { UnsafePathError } from './host/trusted-dirs.js';
export { BosunError, ConfigError } from './util/errors.js';
export { createLogger, silentLogger } from './util/logger.js';
