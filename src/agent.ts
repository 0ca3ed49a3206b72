import type { AgentConfig } from './config/schema.js';

export async function runAgent(_config: AgentConfig): Promise<void> {
  throw new Error('bosun agent: not implemented yet');
}
