import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { BosunError, errorMessage } from '../util/errors.js';
import { configTable, devicesTable, fleetsTable, shortCommit, table } from './cli-format.js';
import { printDeviceLogs } from './cli-logs.js';
import { registerServeCommands } from './cli-serve.js';
import { watchRollout } from './cli-watch.js';
import { DEFAULT_FLEET_URL, FleetApiError, FleetClient } from './client.js';
import { formatIssue } from './errors.js';

interface ClientOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** Adds `bosun fleet serve` and the fleet manager's verbs to the `fleet` command. */
export function registerFleetCommands(fleet: Command): void {
  registerServeCommands(fleet);

  verb(fleet, 'create <fleet>', 'create a fleet (and its app); prints the provisioning key once').action(
    run(async (client, options, name: string) => {
      const created = await client.createFleet(name);
      if (options.json) return json(created);
      out(`created fleet ${created.name} (app id ${created.appId}, app uuid ${created.appUuid})`);
      out(`provisioning key: ${created.provisioningKey}`);
      out(`(shown once; devices register with BOSUN_FLEET=${created.name} BOSUN_PROVISIONING_KEY=<key>)`);
    }),
  );

  verb(fleet, 'fleets', 'list fleets').action(
    run(async (client, options) => {
      const fleets = await client.listFleets();
      if (options.json) return json(fleets);
      process.stdout.write(fleetsTable(fleets));
    }),
  );

  verb(
    fleet,
    'push <fleet> <compose-file>',
    "push a compose file as a new release: the fleet's new target",
  ).action(
    run(async (client, options, name: string, file: string) => {
      const yaml = await readComposeFile(file);
      const release = await client.pushRelease(name, yaml);
      // What devices would ignore is said now, on stderr so --json output stays parseable.
      for (const warning of release.warnings)
        process.stderr.write(`bosun: warning: ${formatIssue(warning)}\n`);
      if (options.json) return json(release);
      out(`release ${release.id} (${release.commit}) is now the target of ${release.fleet}`);
      for (const [service, info] of Object.entries(release.services)) {
        out(`  ${service}: ${info.image} (service id ${info.id}, image id ${info.imageId})`);
      }
    }),
  );

  verb(fleet, 'releases <fleet>', 'list the releases of a fleet').action(
    run(async (client, options, name: string) => {
      const releases = await client.listReleases(name);
      if (options.json) return json(releases);
      process.stdout.write(
        releases.length === 0
          ? 'no releases\n'
          : table(
              ['ID', 'COMMIT', 'CREATED', 'IMAGES'],
              releases.map((r) => [String(r.id), r.commit, r.createdAt, imagesOf(r.services)]),
            ),
      );
    }),
  );

  verb(
    fleet,
    'rollback <fleet> <release>',
    "make an earlier release the fleet's target again (id, commit or commit prefix); pins stay",
  ).action(
    run(async (client, options, name: string, release: string) => {
      const answer = await client.setFleetTarget(name, release);
      if (options.json) return json(answer);
      out(`fleet ${name} now targets release ${answer.target.id} (${shortCommit(answer.target.commit)})`);
    }),
  );

  verb(fleet, 'pin <device> <release>', 'keep a device on a release (id, commit or commit prefix)').action(
    run(async (client, options, device: string, release: string) => {
      const answer = await client.pin(device, release);
      if (options.json) return json(answer);
      out(`device ${device} pinned to release ${answer.pinned.id} (${shortCommit(answer.pinned.commit)})`);
    }),
  );

  verb(fleet, 'unpin <device>', "let a device follow its fleet's target again").action(
    run(async (client, options, device: string) => {
      const answer = await client.unpin(device);
      if (options.json) return json(answer);
      out(`device ${device} follows its fleet's target`);
    }),
  );

  registerConfigCommands(
    fleet.command('config').description('fleet and device config vars (e.g. SUPERVISOR_OVERRIDE_LOCK)'),
  );

  verb(fleet, 'devices', 'list devices: release, update status, progress, what blocks them, last seen')
    .option('--fleet <fleet>', 'only this fleet')
    .action(
      run(async (client, options: ClientOptions & { fleet?: string }) => {
        const devices = await client.listDevices(options.fleet);
        if (options.json) return json(devices);
        process.stdout.write(devicesTable(devices, new Date()));
      }),
    );

  verb(fleet, 'logs <device>', "print a device's log: its services' output and the agent's update events")
    .option('--tail <n>', 'how many of the last lines to print', '100')
    .option('--follow', 'then keep printing new lines until interrupted')
    .option('--service <name>', "only this service's lines")
    .action(
      run(
        async (
          client,
          options: ClientOptions & { tail: string; follow?: boolean; service?: string },
          device: string,
        ) => {
          const tail = Number(options.tail);
          if (!/^\d+$/.test(options.tail) || tail < 1 || tail > 10_000) {
            throw new BosunError('EUSAGE', '--tail must be a whole number from 1 to 10000');
          }
          await printDeviceLogs(client, {
            device,
            tail,
            service: options.service,
            follow: options.follow === true,
            json: options.json === true,
            write: (text) => process.stdout.write(text),
            warn: (text) => process.stderr.write(text),
          });
        },
      ),
    );

  verb(fleet, 'watch <fleet>', 'follow a rollout every second until every device runs its target release')
    .option('--timeout <seconds>', 'give up (exit 1) after this many seconds')
    .addOption(new Option('--interval <ms>', 'refresh interval').default('1000').hideHelp())
    .action(
      run(async (client, options: ClientOptions & { timeout?: string; interval: string }, name: string) => {
        await watchRollout(client, {
          fleet: name,
          intervalMs: positiveNumber('--interval', options.interval),
          timeoutMs:
            options.timeout === undefined ? undefined : positiveNumber('--timeout', options.timeout) * 1000,
          json: options.json === true,
          inPlace: process.stdout.isTTY === true,
          write: (text) => process.stdout.write(text),
        });
      }),
    );
}

function registerConfigCommands(config: Command): void {
  const deviceOption = () => new Option('--device <uuid>', 'a device override instead of a fleet var');

  verb(config, 'set <target...>', 'set a config var: <fleet> KEY=VALUE, or --device <uuid> KEY=VALUE')
    .addOption(deviceOption())
    .action(
      run(async (client, options: ClientOptions & { device?: string }, args: string[]) => {
        const [owner, assignment] = splitTarget(args, options.device, 'KEY=VALUE');
        const eq = assignment.indexOf('=');
        if (eq <= 0) throw new BosunError('EUSAGE', `expected KEY=VALUE, not "${assignment}"`);
        const [key, value] = [assignment.slice(0, eq), assignment.slice(eq + 1)];
        const view = options.device
          ? await client.setDeviceConfig(owner, key, value)
          : await client.setFleetConfig(owner, key, value);
        if (options.json) return json(view);
        out(`${key}=${value} set on ${options.device ? 'device' : 'fleet'} ${owner}`);
      }),
    );

  verb(config, 'unset <target...>', 'remove a config var: <fleet> KEY, or --device <uuid> KEY')
    .addOption(deviceOption())
    .action(
      run(async (client, options: ClientOptions & { device?: string }, args: string[]) => {
        const [owner, key] = splitTarget(args, options.device, 'KEY');
        const view = options.device
          ? await client.unsetDeviceConfig(owner, key)
          : await client.unsetFleetConfig(owner, key);
        if (options.json) return json(view);
        out(view.removed ? `${key} removed from ${owner}` : `${key} was not set on ${owner}`);
      }),
    );

  verb(config, 'list [fleet]', "list a fleet's config vars, or with --device what a device receives")
    .addOption(deviceOption())
    .action(
      run(async (client, options: ClientOptions & { device?: string }, name?: string) => {
        if (options.device === undefined && name === undefined) {
          throw new BosunError('EUSAGE', 'config list needs a fleet or --device <uuid>');
        }
        if (options.device !== undefined && name !== undefined) {
          throw new BosunError('EUSAGE', 'give either a fleet or --device, not both');
        }
        const view = options.device
          ? await client.deviceConfig(options.device)
          : await client.fleetConfig(name!);
        if (options.json) return json(view);
        const effective = view.effective ?? view.fleet;
        process.stdout.write(
          configTable(
            Object.entries(effective).map(([key, value]) => ({
              key,
              value,
              source: view.device && key in view.device ? 'device' : 'fleet',
            })),
          ),
        );
      }),
    );
}

/** A verb with the options every manager verb shares. */
function verb(parent: Command, nameAndArgs: string, description: string): Command {
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
function run<O extends ClientOptions, A extends any[]>(
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
      throw err;
    }
  };
}

function splitTarget(args: string[], device: string | undefined, what: string): [string, string] {
  if (device !== undefined) {
    if (args.length !== 1) throw new BosunError('EUSAGE', `with --device, give exactly one ${what}`);
    return [device, args[0] as string];
  }
  if (args.length !== 2)
    throw new BosunError('EUSAGE', `give a fleet and one ${what}, or --device <uuid> ${what}`);
  return [args[0] as string, args[1] as string];
}

async function readComposeFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new BosunError('EUSAGE', `cannot read compose file ${file}: ${errorMessage(err)}`, { cause: err });
  }
}

function positiveNumber(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new BosunError('EUSAGE', `${flag} must be a positive number`);
  return value;
}

function imagesOf(services: Record<string, { image: string }>): string {
  return Object.entries(services)
    .map(([name, svc]) => `${name}=${svc.image}`)
    .join(', ');
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function json(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
