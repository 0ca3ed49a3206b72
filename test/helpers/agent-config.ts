import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { AgentConfig } from '../../src/config/schema.js';

/**
 * A whole agent's configuration for a test: its own temporary data and lock dirs, an API on a free
 * loopback port, silent, and no probation unless the test asks for one (with the default 60 s,
 * every update would keep the old release's images and a service a test makes exit would be
 * rolled back). Returns the config and the temp root to delete. `load` reads the defaults: the
 * engine tests pass the bundle's loader (test/helpers/shipped-agent.ts), so their agents start
 * from the configuration the shipped code reads.
 */
export async function tempAgentConfig(
  prefix: string,
  over: Partial<AgentConfig> = {},
  load: (env: NodeJS.ProcessEnv) => AgentConfig = loadConfig,
): Promise<AgentConfig & { root: string }> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    ...load({}),
    dataDir: path.join(root, 'data'),
    lockDir: path.join(root, 'locks'),
    listenPort: 0,
    logLevel: 'silent',
    updateProbation: '0',
    ...over,
    root,
  };
}
