import type { Command } from 'commander';
import { loadConfig, maskSecrets } from '../config/load.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run the device agent in the foreground')
    .option('--print-config', 'print the effective configuration (secrets masked) and exit')
    .action(async (options: { printConfig?: boolean }) => {
      const config = loadConfig(process.env);
      if (options.printConfig) {
        process.stdout.write(JSON.stringify(maskSecrets(config), null, 2) + '\n');
        return;
      }
      const { runAgent } = await import('./start-agent.js');
      await runAgent(config);
    });
}
