/** What every manager verb shares: the backend's URL and token, and how to answer. */
import { Command, Option } from 'commander';
import { BosunError } from '../util/errors.js';
import { DEFAULT_FLEET_URL, FleetApiError, FleetClient } from './client.js';
import { FleetError } from './errors.js';

export interface ClientOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** A verb with the options every manager verb shares. */
export function verb(parent: Command, nameAndArgs: string, description: string): Command {
  return parent
    .command(nameAndArgs)
    .description(description)
    .addOption(
      new Option('--url <url>', 'fleet backend URL').env('BOSUN_FLEET_URL').default(DEFAULT_FLEET_URL),
    )
    .addOption(new Option('--token <token>', 'manager token').env('BOSUN_FLEET_TOKEN'))
    .option('--json', 'print JSON instead of text');
}

/**
 * Wraps a verb: builds the client from the shared options and turns the backend's 4xx answers
 * (unknown fleet, bad compose file, wrong token) into usage errors, which exit 2.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function run<O extends ClientOptions, A extends any[]>(
  body: (client: FleetClient, options: O, ...args: A) => Promise<void>,
) {
  return async (...params: unknown[]): Promise<void> => {
    // commander passes the positional arguments, then the options, then the command.
    const options = params[params.length - 2] as O;
    const args = params.slice(0, -2) as A;
    if (!options.token) {
      throw new BosunError('EUSAGE', 'no manager token: pass --token or set BOSUN_FLEET_TOKEN');
    }
    const client = new FleetClient({ url: options.url, token: options.token });
    try {
      await body(client, options, ...args);
    } catch (err) {
      if (err instanceof FleetApiError && err.status >= 400 && err.status < 500) {
        const hint = err.status === 401 ? ' (check --token / BOSUN_FLEET_TOKEN)' : '';
        throw new BosunError('EUSAGE', `${err.message}${hint}`, { cause: err });
      }
      // Input the CLI checked itself, as the backend would (waves, tags): a usage error too.
      if (err instanceof FleetError && err.statusCode === 400) {
        throw new BosunError('EUSAGE', err.message, { cause: err });
      }
      throw err;
    }
  };
}

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
