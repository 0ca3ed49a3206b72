import type { Command } from 'commander';

/** Adds `bosun fleet serve` and the fleet manager's verbs to the `fleet` command. */
export function registerFleetCommands(fleet: Command): void {
  fleet
    .command('serve')
    .description('run the fleet backend (the cloud the agents poll)')
    .action(() => {
      throw new Error('bosun fleet serve: not implemented yet');
    });
}
