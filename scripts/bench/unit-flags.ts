/**
 * What the systemd unit's node flags (examples/bosun.service) cost where bosun is busy, against the
 * same work without them, in the same run. The flags buy idle memory (poll-idle.js, `unit` mode);
 * this prints their price in CPU, each part run once without and once with them:
 *   planner - planSteps for a 100-service app, every scenario of reconcile-planner.ts (median ms),
 *             in a child process with the flags
 *   api     - api-state-rps.js as a child with the flags: the local API's event-loop time per
 *             GET /v2/applications/state (its load generator, a worker thread, runs with them too)
 *   logs    - log-ship.js with the flags for its agent: the extra CPU of shipping ~1,000 lines/s
 *             (needs the Docker engine and registry: bash scripts/stack/up.sh)
 * Printed, never asserted: a ratio of 1 means the flags cost nothing there.
 *
 * Run: npm run build && node dist/scripts/bench/unit-flags.js [--parts planner,api,logs] [--seconds 5]
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { benchPlanner, type PlannerFigure } from './reconcile-planner.js';
import { UNIT_FILE, unitNodeFlags } from './unit-file.js';

const PARTS = ['planner', 'api', 'logs'] as const;
type Part = (typeof PARTS)[number];
const run = promisify(execFile);
const script = (name: string) => fileURLToPath(new URL(name, import.meta.url));

/** Runs a bench script with `flags`; returns the number `pattern` finds in its output. */
async function figureOf(flags: string[], file: string, args: string[], pattern: RegExp): Promise<number> {
  const { stdout } = await run(process.execPath, [...flags, script(file), ...args], {
    maxBuffer: 1 << 24,
  });
  const match = pattern.exec(stdout);
  if (!match) throw new Error(`${file} ${args.join(' ')} printed no ${pattern}:\n${stdout}`);
  return Number(match[1]);
}

async function plannerFigures(flags: string[]): Promise<PlannerFigure[]> {
  const { stdout } = await run(process.execPath, [...flags, script('unit-flags.js'), '--planner-child']);
  return JSON.parse(stdout) as PlannerFigure[];
}

function ratioLine(label: string, without: number, withFlags: number, unit: string): string {
  return (
    `${label.padEnd(62)}${without.toFixed(2).padStart(10)}${withFlags.toFixed(2).padStart(10)} ${unit.padEnd(12)}` +
    `${(withFlags / without).toFixed(2).padStart(6)}`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      parts: { type: 'string', default: PARTS.join(',') },
      seconds: { type: 'string', default: '5' },
      'planner-child': { type: 'boolean', default: false },
    },
  });
  if (values['planner-child']) {
    process.stdout.write(JSON.stringify(benchPlanner([100])));
    return;
  }
  const parts = values.parts.split(',') as Part[];
  const seconds = Number(values.seconds);
  if (parts.some((part) => !PARTS.includes(part)) || !Number.isInteger(seconds) || seconds < 1) {
    console.error(`--parts takes ${PARTS.join(',')}; --seconds a whole number`);
    process.exit(2);
  }
  const flags = unitNodeFlags();
  console.log(`unit-flags: node ${flags.join(' ')} (${UNIT_FILE}) against no flags`);
  console.log(`${''.padEnd(62)}${'no flags'.padStart(10)}${'unit'.padStart(10)} ${''.padEnd(12)} ratio`);

  if (parts.includes('planner')) {
    const [without, withFlags] = [await plannerFigures([]), await plannerFigures(flags)];
    for (const figure of without) {
      const other = withFlags.find((f) => f.scenario === figure.scenario);
      if (!other) throw new Error(`no ${figure.scenario} with the flags`);
      console.log(
        ratioLine(`planner, 100 services: ${figure.scenario}`, figure.medianMs, other.medianMs, 'ms'),
      );
    }
  }
  if (parts.includes('api')) {
    const loop = /^bosun\s.*server loop ([\d.]+) us\/request/m;
    const args = ['--seconds', String(seconds)];
    const without = await figureOf([], 'api-state-rps.js', args, loop);
    const withFlags = await figureOf(flags, 'api-state-rps.js', args, loop);
    console.log(ratioLine('local API: GET /v2/applications/state', without, withFlags, 'us/request'));
  }
  if (parts.includes('logs')) {
    const extra = /^extra CPU for shipping: ([\d.-]+)%/m;
    const args = ['--seconds', String(Math.max(seconds, 10))];
    const without = await figureOf([], 'log-ship.js', args, extra);
    const withFlags = await figureOf([], 'log-ship.js', [...args, `--node-flags=${flags.join(' ')}`], extra);
    console.log(ratioLine('shipping ~1,000 log lines/s: extra CPU', without, withFlags, '% of a core'));
  }
}

await main();
