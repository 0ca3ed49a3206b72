/** The fleet CLI's verbs for staged rollouts and device tags (contract section 12). */
import { Command, Option } from 'commander';
import { BosunError } from '../util/errors.js';
import type { RolloutRequest, RolloutView } from './api-types.js';
import { devicesTable, rolloutStatusText, shortCommit } from './cli-format.js';
import { json, out, run, verb, type ClientOptions } from './cli-verbs.js';
import type { FleetClient } from './client.js';
import { parseFailureLimit, parseWaves, parseWaveWait } from './rollout-plan.js';
import { checkTagKey, parseTagAssignment, parseTagFilter } from './tags.js';

export interface RolloutOptions {
  rollout?: string;
  waveWait?: string;
  maxFailures?: string;
  only?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The options of a verb that starts a rollout (`push`, `rollout <fleet> <release>`). */
export function addRolloutOptions(command: Command): Command {
  return command
    .option(
      '--rollout <waves>',
      'staged rollout: cumulative counts or percentages of devices, e.g. 1,10%,100%',
    )
    .option('--wave-wait <duration>', 'how long every device of a wave must stay done before the next opens')
    .option('--max-failures <n|n%>', 'failed devices tolerated before the rollout halts (default 0)')
    .addOption(
      new Option('--only <key=value>', 'only devices with this tag (repeat for several)').argParser(collect),
    );
}

/**
 * The rollout a verb's options ask for, checked here as the backend checks it (so a typo is
 * said before a compose file is even read); undefined when none of them is given.
 */
export function rolloutRequest(options: RolloutOptions): RolloutRequest | undefined {
  const { rollout, waveWait, maxFailures, only } = options;
  if (rollout === undefined && waveWait === undefined && maxFailures === undefined && only === undefined) {
    return undefined;
  }
  if (rollout !== undefined) parseWaves(rollout);
  if (waveWait !== undefined) parseWaveWait(waveWait);
  if (maxFailures !== undefined) parseFailureLimit(maxFailures);
  return {
    waves: rollout,
    waveWait,
    maxFailures,
    only: only === undefined ? undefined : parseTagFilter(only),
  };
}

/** One line on how a rollout started: its release, devices and first wave. */
export function rolloutStartLine(view: RolloutView): string {
  const devices = view.waves.reduce((sum, wave) => sum + wave.size, 0);
  const scope =
    Object.keys(view.only).length > 0
      ? ` tagged ${Object.entries(view.only)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`
      : '';
  const release = `release ${view.release.id} (${shortCommit(view.release.commit)})`;
  if (view.waves.length <= 1) {
    return `rolling ${release} out to ${devices} device${devices === 1 ? '' : 's'}${scope} of ${view.fleet}: ${view.state}`;
  }
  const sizes = view.waves.map((wave) => wave.size).join(', ');
  return `rolling ${release} out to ${devices} devices${scope} of ${view.fleet} in ${view.waves.length} waves (${sizes}): wave ${view.openedWaves} open, ${view.state}`;
}

const ROLLOUT_COMMANDS = ['status', 'pause', 'resume', 'abort'] as const;
type RolloutCommand = (typeof ROLLOUT_COMMANDS)[number];

/**
 * `bosun fleet rollout <fleet> <release> --rollout ...` starts one; `bosun fleet rollout
 * status|pause|resume|abort <fleet>` reads or steers the current one. One command that tells
 * the two apart by its first word, rather than subcommands beside an action of its own: with
 * those, commander hands options given after the subcommand (`--token`) to the parent.
 */
export function registerRolloutCommands(fleet: Command): void {
  addRolloutOptions(
    verb(
      fleet,
      'rollout <fleet|command> [release]',
      'roll an existing release out: rollout <fleet> <release> [--rollout 1,10%,100%]; ' +
        "or rollout status|pause|resume|abort <fleet>: the fleet's current rollout (status: each wave, " +
        'its state, why it halted; abort: devices of opened waves go back to their previous release)',
    ),
  ).action(
    run(async (client, options: ClientOptions & RolloutOptions, first: string, second?: string) => {
      if (second === undefined) {
        throw new BosunError(
          'EUSAGE',
          'rollout needs <fleet> <release>, or status|pause|resume|abort <fleet>',
        );
      }
      if (!(ROLLOUT_COMMANDS as readonly string[]).includes(first)) {
        const view = await client.startRollout(first, second, rolloutRequest(options) ?? {});
        if (options.json) return json(view);
        return out(rolloutStartLine(view));
      }
      if (rolloutRequest(options) !== undefined) {
        throw new BosunError(
          'EUSAGE',
          `rollout ${first} takes no --rollout, --wave-wait, --max-failures or --only`,
        );
      }
      await rolloutCommand(client, first as RolloutCommand, second, options.json === true);
    }),
  );
}

async function rolloutCommand(client: FleetClient, command: RolloutCommand, fleet: string, asJson: boolean) {
  const view =
    command === 'status' ? await client.rolloutStatus(fleet) : await client.rolloutCommand(fleet, command);
  if (asJson) return json(view);
  if (command === 'status') return process.stdout.write(rolloutStatusText(view));
  out(`rollout ${view.id} of release ${view.release.id} in fleet ${fleet}: ${view.state}`);
}

export function registerTagCommands(fleet: Command): void {
  verb(fleet, 'tag <device> <key=value...>', 'set tags on a device').action(
    run(async (client, options, device: string, assignments: string[]) => {
      const patch = Object.fromEntries(assignments.map((text) => parseTagAssignment(text)));
      const answer = await client.changeTags(device, patch);
      if (options.json) return json(answer);
      out(`device ${device} tags: ${tagsLine(answer.tags)}`);
    }),
  );

  verb(fleet, 'untag <device> <key...>', 'remove tags from a device').action(
    run(async (client, options, device: string, keys: string[]) => {
      for (const key of keys) checkTagKey(key);
      const answer = await client.changeTags(device, Object.fromEntries(keys.map((key) => [key, null])));
      if (options.json) return json(answer);
      out(`device ${device} tags: ${tagsLine(answer.tags)}`);
    }),
  );
}

/** `bosun fleet devices`, with its tag filter. */
export function registerDevicesCommand(fleet: Command): void {
  verb(
    fleet,
    'devices',
    'list devices: release, wave, update status, progress, what blocks them, last seen, tags',
  )
    .option('--fleet <fleet>', 'only this fleet')
    .addOption(
      new Option('--tag <key=value>', 'only devices with this tag (repeat for several)').argParser(collect),
    )
    .action(
      run(async (client, options: ClientOptions & { fleet?: string; tag?: string[] }) => {
        const tags = options.tag ?? [];
        parseTagFilter(tags);
        const devices = await client.listDevices(options.fleet, tags);
        if (options.json) return json(devices);
        process.stdout.write(devicesTable(devices, new Date()));
      }),
    );
}

function tagsLine(tags: Record<string, string>): string {
  const entries = Object.entries(tags);
  return entries.length === 0 ? 'none' : entries.map(([key, value]) => `${key}=${value}`).join(', ');
}
