import { existsSync } from 'node:fs';
import { Command, Option } from 'commander';
import { displayLocation, isPostgresUrl } from './database-location.js';
import { BosunError } from '../util/errors.js';
import { createLogger } from '../util/logger.js';
import { DEFAULT_FLEET_ADDRESS, DEFAULT_FLEET_DB, DEFAULT_FLEET_PORT } from './defaults.js';
import { untilStopSignal } from '../util/signals.js';
import type { TokenSource } from './store.js';

interface DatabaseOptions {
  database?: string;
  db: string;
}

interface ServeOptions extends DatabaseOptions {
  port: string;
  address: string;
  token?: string;
}

/**
 * `--database` (a postgres:// URL or a SQLite file) and its older alias `--db` (a file). An
 * option on the command line wins over an environment variable; given both ways, --database
 * wins over --db.
 */
function addDatabaseOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--database <url>',
        'postgres://user:password@host:port/db (PostgreSQL, which several backends may share) or a SQLite file',
      ).env('BOSUN_FLEET_DATABASE'),
    )
    .addOption(
      new Option('--db <file>', 'SQLite database file (same as --database FILE)')
        .env('BOSUN_FLEET_DB')
        .default(DEFAULT_FLEET_DB),
    );
}

/** Where the data is: the database the options name, by the precedence addDatabaseOptions gives. */
export function chooseDatabase(
  options: DatabaseOptions,
  sourceOf: (key: string) => string | undefined,
): string {
  if (options.database !== undefined && options.database === '') {
    throw new BosunError('EUSAGE', '--database must not be empty');
  }
  if (sourceOf('database') === 'cli') return options.database!;
  if (sourceOf('db') === 'cli') return options.db;
  return options.database ?? options.db;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535)
    throw new BosunError('EUSAGE', `--port must be 0-65535, not "${text}"`);
  return port;
}

/** `bosun fleet serve` and `bosun fleet token`. */
export function registerServeCommands(fleet: Command): void {
  const serve = fleet
    .command('serve')
    .description('run the fleet backend (the cloud the agents poll) until SIGINT or SIGTERM')
    .addOption(
      new Option('--port <port>', 'TCP port').env('BOSUN_FLEET_PORT').default(String(DEFAULT_FLEET_PORT)),
    )
    .addOption(new Option('--address <address>', 'address to bind').default(DEFAULT_FLEET_ADDRESS));
  addDatabaseOptions(serve)
    .addOption(
      new Option('--token <token>', 'manager token (default: generated once and stored in the db)').env(
        'BOSUN_FLEET_TOKEN',
      ),
    )
    .action(async (options: ServeOptions, command: Command) => {
      const database = chooseDatabase(options, (key) => command.getOptionValueSource(key));
      // Loaded here, not at the top: the agent shares this command tree and needs no HTTP
      // framework for the backend, SQLite or YAML in its memory.
      const { startFleetServer } = await import('./server.js');
      const log = createLogger((process.env.BOSUN_LOG_LEVEL as 'info' | undefined) ?? 'info', 'bosun-fleet');
      const server = await startFleetServer({
        port: parsePort(options.port),
        address: options.address,
        database,
        token: options.token,
        log,
      });
      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(`bosun fleet backend listening on ${server.url} (database ${displayLocation(database)})`);
      out(managerTokenLine(server.tokenSource, server.token, database));
      await untilStopSignal();
      await server.close();
    });

  const token = fleet
    .command('token')
    .description(
      'with --rotate: replace the manager token stored (as a hash) in the database and print the new one once',
    );
  addDatabaseOptions(token)
    .option('--rotate', 'make a new manager token; the old one stops working at once')
    .action(async (options: DatabaseOptions & { rotate?: boolean }, command: Command) => {
      const database = chooseDatabase(options, (key) => command.getOptionValueSource(key));
      if (!options.rotate) {
        throw new BosunError(
          'EUSAGE',
          'the database keeps only a hash of the manager token, printed once when `fleet serve` generated it;' +
            ' to get a new one: bosun fleet token --rotate',
        );
      }
      if (!isPostgresUrl(database) && !existsSync(database)) {
        throw new BosunError('EUSAGE', `no fleet database at ${database}`);
      }
      const { FleetStore } = await import('./store.js');
      const store = await FleetStore.open(database);
      try {
        process.stdout.write(`${await store.rotateManagerToken()}\n`);
      } finally {
        await store.close();
      }
    });
}

/** What `fleet serve` says about the manager token: a generated one in full, this once only. */
export function managerTokenLine(source: TokenSource, token: string | undefined, database: string): string {
  const where = displayLocation(database);
  const rotate = `bosun fleet token --rotate ${isPostgresUrl(database) ? '--database' : '--db'} ${where}`;
  switch (source) {
    case 'option':
      return 'manager token: as given by --token / BOSUN_FLEET_TOKEN';
    case 'generated':
      return (
        `manager token: ${token} (generated now and shown only this once: ${where} keeps only its hash;` +
        ` a new one: ${rotate})`
      );
    case 'stored':
      return (
        `manager token: the one generated on the first start (${where} keeps only its hash;` +
        ` a new one: ${rotate})`
      );
  }
}
