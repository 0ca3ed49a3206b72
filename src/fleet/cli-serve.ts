import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { BosunError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { DEFAULT_FLEET_ADDRESS, DEFAULT_FLEET_DB, DEFAULT_FLEET_PORT } from './defaults.js';
import { untilStopSignal } from '../util/signals.js';
import type { TokenSource } from './store.js';

interface ServeOptions {
  port: string;
  address: string;
  db: string;
  token?: string;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new BosunError('EUSAGE', `--port must be 0-65535, not "${text}"`);
  return port;
}

/** `bosun fleet serve` and `bosun fleet token`. */
export function registerServeCommands(fleet: Command): void {
  fleet
    .command('serve')
    .description('run the fleet backend (the cloud the agents poll) until SIGINT or SIGTERM')
    .addOption(
      new Option('--port <port>', 'TCP port').env('BOSUN_FLEET_PORT').default(String(DEFAULT_FLEET_PORT)),
    )
    .addOption(new Option('--address <address>', 'address to bind').default(DEFAULT_FLEET_ADDRESS))
    .addOption(
      new Option('--db <file>', 'SQLite database file').env('BOSUN_FLEET_DB').default(DEFAULT_FLEET_DB),
    )
    .addOption(
      new Option('--token <token>', 'manager token (default: generated once and stored in the db)').env(
        'BOSUN_FLEET_TOKEN',
      ),
    )
    .action(async (options: ServeOptions) => {
      // Loaded here, not at the top: the agent shares this command tree and needs no HTTP
      // framework for the backend, SQLite or YAML in its memory.
      const { startFleetServer } = await import('./server.js');
      const log = createLogger((process.env.BOSUN_LOG_LEVEL as 'info' | undefined) ?? 'info', 'bosun-fleet');
      const server = await startFleetServer({
        port: parsePort(options.port),
        address: options.address,
        dbFile: options.db,
        token: options.token,
        log,
      });
      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(`bosun fleet backend listening on ${server.url} (database ${server.dbFile})`);
      out(managerTokenLine(server.tokenSource, server.token, server.dbFile));
      await untilStopSignal();
      await server.close();
    });

  fleet
    .command('token')
    .description(
      'with --rotate: replace the manager token stored (as a hash) in the database and print the new one once',
    )
    .addOption(
      new Option('--db <file>', 'SQLite database file').env('BOSUN_FLEET_DB').default(DEFAULT_FLEET_DB),
    )
    .option('--rotate', 'make a new manager token; the old one stops working at once')
    .action(async (options: { db: string; rotate?: boolean }) => {
      if (!options.rotate) {
        throw new BosunError(
          'EUSAGE',
          'the database keeps only a hash of the manager token, printed once when `fleet serve` generated it;' +
            ' to get a new one: bosun fleet token --rotate',
        );
      }
      if (!existsSync(options.db)) throw new BosunError('EUSAGE', `no fleet database at ${options.db}`);
      const { FleetStore } = await import('./store.js');
      const store = FleetStore.open(options.db);
      try {
        process.stdout.write(`${store.rotateManagerToken()}\n`);
      } finally {
        store.close();
      }
    });
}

/** What `fleet serve` says about the manager token: a generated one in full, this once only. */
export function managerTokenLine(source: TokenSource, token: string | undefined, dbFile: string): string {
  switch (source) {
    case 'option':
      return 'manager token: as given by --token / BOSUN_FLEET_TOKEN';
    case 'generated':
      return (
        `manager token: ${token} (generated now and shown only this once: ${dbFile} keeps only its hash;` +
        ` a new one: bosun fleet token --rotate --db ${dbFile})`
      );
    case 'stored':
      return (
        `manager token: the one generated on the first start (${dbFile} keeps only its hash;` +
        ` a new one: bosun fleet token --rotate --db ${dbFile})`
      );
  }
}
