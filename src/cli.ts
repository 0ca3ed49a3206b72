#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerAgentCommand } from './agent/command.js';
import { BosunError, ConfigError, errorMessage } from './util/errors.js';

import { VERSION } from './version.js';

/**
 * Builds the command tree for `argv`. The fleet verbs (the backend and the fleet manager's CLI, a
 * module tree of their own) are loaded only when the command is `fleet` (or `help`): `bosun agent`
 * never loads them, 0.5-0.7 MB less for an idle agent (issue #15; the build checks it). Top-level
 * help still lists `fleet`, from its description alone.
 */
async function buildProgram(argv: string[]): Promise<Command> {
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
  if (FLEET_VERBS_NEEDED.has(commandOf(argv) ?? '')) {
    const { registerFleetCommands } = await import('./fleet/cli.js');
    registerFleetCommands(fleet);
  }
  return program;
}

/** The commands that show or run the fleet verbs. */
const FLEET_VERBS_NEEDED = new Set(['fleet', 'help']);

/** The command word of `argv` (node, script, then options and the command): its first non-option. */
function commandOf(argv: string[]): string | undefined {
  return argv.slice(2).find((word) => !word.startsWith('-'));
}

/** Exit code 2 and one line for bad arguments or configuration; 1 for anything else. */
export async function main(argv: string[]): Promise<number> {
  try {
    const program = await buildProgram(argv);
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
