import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { BosunError, errorMessage } from '../util/errors.js';
import { configTable, fleetsTable, shortCommit, table } from './cli-format.js';
import {
  addRolloutOptions,
  registerDevicesCommand,
  registerRolloutCommands,
  registerTagCommands,
  rolloutRequest,
  rolloutStartLine,
  type RolloutOptions,
} from './cli-rollout.js';
import { printDeviceLogs } from './cli-logs.js';
import { registerServeCommands } from './cli-serve.js';
import { json, out, run, verb, type ClientOptions } from './cli-verbs.js';
import { watchRollout } from './cli-watch.js';
import { formatIssue } from './errors.js';

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

  addRolloutOptions(
    verb(
      fleet,
      'push <fleet> <compose-file>',
      "push a compose file as a new release: the fleet's new target, at once or in waves (--rollout)",
    ),
  ).action(
    run(async (client, options: ClientOptions & RolloutOptions, name: string, file: string) => {
      const rollout = rolloutRequest(options);
      const yaml = await readComposeFile(file);
      const release = await client.pushRelease(name, yaml, rollout);
      // What devices would ignore is said now, on stderr so --json output stays parseable.
      for (const warning of release.warnings)
        process.stderr.write(`bosun: warning: ${formatIssue(warning)}\n`);
      if (options.json) return json(release);
      if (rollout === undefined)
        out(`release ${release.id} (${release.commit}) is now the target of ${release.fleet}`);
      else out(rolloutStartLine(release.rollout));
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

  registerDevicesCommand(fleet);
  registerTagCommands(fleet);
  registerRolloutCommands(fleet);

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
