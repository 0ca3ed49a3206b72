#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerAgentCommand } from './agent/command.js';
import { registerFleetCommands } from './fleet/cli.js';
import { BosunError, ConfigError, errorMessage } from './util/errors.js';

import { VERSION } from './version.js';

/** Builds the whole command tree; exported so tests can drive it without a subprocess. */
export function buildProgram(): Command {
  const program = new Command('bosun')
    .description('bosun: device agent that runs a fleet release on this device, honouring update locks')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerAgentCommand(program);
  const fleet = program
    .command('fleet')
    .description('the fleet backend and the fleet manager CLI')
    .exitOverride();
  registerFleetCommands(fleet);
  return program;
}

/** Exit code 2 and one line for bad arguments or configuration; 1 for anything else. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version "errors" are successful exits; commander already printed the reason.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`bosun: ${err.message}\n`);
      return 2;
    }
    if (err instanceof BosunError && err.code === 'EUSAGE') {
      process.stderr.write(`bosun: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`bosun: ${errorMessage(err)}\n`);
    return 1;
  }
}

function isEntryPoint(): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false; // argv[1] is not a file (e.g. `node -e`): we were imported, not run
  }
}

if (isEntryPoint()) {
  main(process.argv).then((code) => {
    if (code !== 0) process.exit(code);
  });
}
