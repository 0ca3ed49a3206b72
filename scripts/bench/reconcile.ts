/**
 * Cost of bosun's reconcile engine on the real Docker engine, against a baseline in the same run.
 *
 * Update latency: from the moment a new target is offered (`keeper.offerLocal`, which validates
 * and persists it) to the moment the last new container has started, for a release change of a
 * 1-service and a 5-service app, with the new images already present and with pulls from the
 * local registry. The baseline makes the same change with the fewest dockerode calls (pull,
 * stop, remove, create, start; reconcile-baseline.ts). bosun and baseline repetitions alternate,
 * each from the same starting state; medians are printed with their ratio (goal <= 1.2).
 *
 * Planner cost: `planSteps` on synthetic facts for 10, 100 and 1000 services (reconcile-planner.ts),
 * with the per-service time, which stays flat when growth is linear.
 *
 * Prints figures, asserts nothing. Needs the local stack (bash scripts/stack/up.sh).
 * Run: npm run build && node dist/scripts/bench/reconcile.js [--reps 9]
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { DockerEngine } from '../../src/engine/docker-engine.js';
import { LABELS } from '../../src/engine/types.js';
import { parseDeviceObject } from '../../src/target/validate.js';
import { REGISTRY, startBenchAgent, until, type BenchAgent } from './bench-agent.js';
import * as baseline from './reconcile-baseline.js';
import { benchPlanner, median } from './reconcile-planner.js';

const OLD_IMAGE = `${REGISTRY}/bosun/demo:1`;
const NEW_IMAGE = `${REGISTRY}/bosun/demo:2`;
type Who = 'bosun' | 'baseline';
/**
 * Images of the pull scenarios: two sets per runner (a release change alternates between them),
 * all distinct builds, so a pull never finds its layers already present.
 */
function pullImages(who: Who, set: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${REGISTRY}/bosun-bench/${who}-svc${i + 1}:set${set}`);
}
const ALL_PULL_IMAGES = (['bosun', 'baseline'] as const).flatMap((who) =>
  [0, 1].flatMap((set) => pullImages(who, set, 5)),
);
const BUILD_IMAGE = fileURLToPath(new URL('../../../scripts/images/build-image.sh', import.meta.url));
const APP_UUID = 'benchreconcileapp';
const APP_ID = 9901;

/** DockerEngine that reports each started container, to time "new containers running". */
class TimedEngine extends DockerEngine {
  onStarted: (() => void) | undefined;
  override async startContainer(id: string): Promise<void> {
    await super.startContainer(id);
    this.onStarted?.();
  }
}

let releaseCounter = 0;
/**
 * A v3 device object: one app, one fresh release, `images.length` services; with `networked`,
 * on the app's default network (no network_mode), else with network_mode none.
 */
function device(images: string[], networked = false): { releaseUuid: string; doc: Record<string, unknown> } {
  releaseCounter += 1;
  const releaseUuid = `benchrel${randomUUID().slice(0, 8)}${releaseCounter}`;
  const services = Object.fromEntries(
    images.map((image, i) => [
      `svc${i + 1}`,
      {
        id: i + 1,
        image_id: releaseCounter * 100 + i + 1,
        image,
        composition: networked
          ? { stop_grace_period: '1s' }
          : { network_mode: 'none', stop_grace_period: '1s' },
      },
    ]),
  );
  const doc = {
    name: 'bench',
    config: {},
    apps: {
      [APP_UUID]: {
        id: APP_ID,
        name: 'bench',
        releases: { [releaseUuid]: { id: releaseCounter, services } },
      },
    },
  };
  return { releaseUuid, doc };
}

/** Builds and pushes the pull images once per registry; they never change. */
async function ensurePullImages(): Promise<void> {
  for (const ref of ALL_PULL_IMAGES) {
    const [, repo, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(ref)!;
    const head = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/${tag}`, {
      method: 'HEAD',
      headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
    });
    if (head.status !== 200) await promisify(execFile)('bash', [BUILD_IMAGE, ref, ref], { timeout: 60_000 });
  }
}

interface Scenario {
  name: string;
  services: number;
  pull: boolean;
}

class BosunRunner {
  private constructor(
    private readonly bench: BenchAgent,
    readonly engine: TimedEngine,
  ) {}

  static async start(): Promise<BosunRunner> {
    const engine = new TimedEngine({});
    return new BosunRunner(await startBenchAgent(engine, 'bosun-bench-'), engine);
  }

  private releaseUuid = '';

  async converge(images: string[]): Promise<void> {
    const { releaseUuid, doc } = device(images);
    this.releaseUuid = releaseUuid;
    await this.bench.offer(doc);
    await this.settle();
  }

  /** Untimed: wait until the agent has finished the change (lock released, nothing left to do). */
  async settle(): Promise<void> {
    await until(
      'bosun converged',
      async () => {
        const cs = await this.engine.listContainers(this.bench.uuid);
        const done =
          cs.length > 0 && cs.every((c) => c.releaseUuid === this.releaseUuid && c.status === 'running');
        return done && this.bench.agent.loop.status.converged;
      },
      30_000,
      20,
    );
  }

  /** Untimed: remove the app, and wait until its containers and networks are gone. */
  async clear(): Promise<void> {
    await this.bench.offer({ name: 'bench', config: {}, apps: {} });
    await until(
      'bosun app removed',
      async () =>
        (await this.engine.listContainers(this.bench.uuid)).length === 0 &&
        (await this.engine.listNetworks(this.bench.uuid)).length === 0 &&
        this.bench.agent.loop.status.converged,
      30_000,
      20,
    );
  }

  /** Timed: offer the new release, resolve with ms once all its containers have started. */
  async change(images: string[], networked = false): Promise<number> {
    const { releaseUuid, doc } = device(images, networked);
    this.releaseUuid = releaseUuid;
    let started = 0;
    let finish!: (at: number) => void;
    const allStarted = new Promise<number>((resolve) => (finish = resolve));
    this.engine.onStarted = () => {
      started += 1;
      if (started === images.length) finish(performance.now());
    };
    const t0 = performance.now();
    await this.bench.offer(doc);
    const t1 = await allStarted;
    this.engine.onStarted = undefined;
    return t1 - t0;
  }

  async stop(): Promise<void> {
    await this.bench.stop();
  }
}

/** The baseline, with its own device uuid so bosun never sees its containers. */
class BaselineRunner {
  readonly uuid = randomUUID().replace(/-/g, '');
  private readonly ctx = {
    deviceUuid: this.uuid,
    layout: {
      lockDir: path.join(tmpdir(), 'bosun-bench-baseline', 'locks'),
      dataDir: path.join(tmpdir(), 'bosun-bench-baseline', 'data'),
    },
    apiHost: '127.0.0.1',
    apiPort: 48484,
    appKeys: {},
  };
  private running: string[] = [];

  /** The specs bosun would build, and their bind-mount dirs made (bosun's create does that too). */
  private async specs(images: string[], target = parseDeviceObject(device(images).doc, this.uuid).target) {
    const specs = baseline.specsOf(target, this.ctx);
    for (const m of specs.flatMap((spec) => spec.mounts)) {
      if (m.type === 'bind') await mkdir(m.source, { recursive: true });
    }
    return specs;
  }

  async converge(images: string[]): Promise<void> {
    await baseline.removeAll(this.running);
    this.running = await baseline.install(await this.specs(images));
  }

  /** Timed: a first install of `images` on the app's default network (create it, then the containers). */
  async installNetworked(images: string[]): Promise<number> {
    const target = parseDeviceObject(device(images, true).doc, this.uuid).target;
    const next = await this.specs(images, target);
    const t0 = performance.now();
    this.running = await baseline.installOnNetwork(target, next, this.uuid);
    return performance.now() - t0;
  }

  /** Untimed: remove what installNetworked made. */
  async clearNetworked(): Promise<void> {
    await baseline.removeAll(this.running);
    this.running = [];
    await baseline.removeNetworksOf(this.uuid);
  }

  async change(images: string[], pulls: string[]): Promise<number> {
    const next = await this.specs(images); // the change's input, built before the clock starts
    const t0 = performance.now();
    this.running = await baseline.change(this.running, next, pulls);
    return performance.now() - t0;
  }

  async stop(): Promise<void> {
    await baseline.removeAll(this.running);
    const left = await baseline.docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.deviceUuid}=${this.uuid}`] },
    });
    await baseline.removeAll(left.map((c) => c.Id));
    await baseline.removeNetworksOf(this.uuid);
    await rm(path.join(tmpdir(), 'bosun-bench-baseline'), { recursive: true, force: true });
  }
}

async function benchUpdates(reps: number): Promise<void> {
  await ensurePullImages();
  await Promise.all([OLD_IMAGE, NEW_IMAGE].map((ref) => baseline.pull(ref)));
  const scenarios: Scenario[] = [
    { name: '1 service, images present', services: 1, pull: false },
    { name: '5 services, images present', services: 5, pull: false },
    { name: '1 service, with pull', services: 1, pull: true },
    { name: '5 services, with pulls', services: 5, pull: true },
  ];
  const bosun = await BosunRunner.start();
  const base = new BaselineRunner();
  console.log(`update latency: target offered -> all new containers started (median of ${reps})`);
  console.log(
    'scenario                      bosun ms   baseline ms   ratio   (bosun runs / baseline runs, ms)',
  );
  try {
    for (const s of scenarios) {
      // Each repetition is a release change from the one before; images alternate between two sets.
      const imagesFor = (who: Who, rep: number) =>
        s.pull
          ? pullImages(who, rep % 2, s.services)
          : Array.from({ length: s.services }, () => (rep % 2 ? NEW_IMAGE : OLD_IMAGE));
      // Untimed: bring both to this scenario's shape, on the images of "repetition -1".
      await bosun.converge(imagesFor('bosun', 1));
      await base.converge(imagesFor('baseline', 1));
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let rep = 0; rep < reps; rep += 1) {
        // Alternate who goes first, so drift in the engine's speed hits both alike.
        const order: Who[] = rep % 2 === 0 ? ['bosun', 'baseline'] : ['baseline', 'bosun'];
        for (const who of order) {
          const images = imagesFor(who, rep);
          if (s.pull) for (const ref of images) await baseline.removeLocalImage(ref);
          if (who === 'bosun') {
            ours.push(await bosun.change(images));
            await bosun.settle();
          } else {
            theirs.push(await base.change(images, s.pull ? images : []));
          }
        }
      }
      printRow(s.name, ours, theirs);
    }
    // A first install of a 2-service app on its default network: create the network, then both
    // containers (from nothing each time; the removal in between is untimed).
    await bosun.clear();
    const ours: number[] = [];
    const theirs: number[] = [];
    const images = [OLD_IMAGE, OLD_IMAGE];
    for (let rep = 0; rep < reps; rep += 1) {
      const order: Who[] = rep % 2 === 0 ? ['bosun', 'baseline'] : ['baseline', 'bosun'];
      for (const who of order) {
        if (who === 'bosun') {
          ours.push(await bosun.change(images, true));
          await bosun.settle();
          await bosun.clear();
        } else {
          theirs.push(await base.installNetworked(images));
          await base.clearNetworked();
        }
      }
    }
    printRow('2 services, network install', ours, theirs);
  } finally {
    await bosun.stop();
    await base.stop();
  }
}

function printRow(name: string, ours: number[], theirs: number[]): void {
  const [m, b] = [median(ours), median(theirs)];
  const runs = `(${ours.map((x) => x.toFixed(0)).join(' ')} / ${theirs.map((x) => x.toFixed(0)).join(' ')})`;
  console.log(
    `${name.padEnd(28)} ${m.toFixed(0).padStart(8)}   ${b.toFixed(0).padStart(11)}   ${(m / b).toFixed(2).padStart(5)}   ${runs}`,
  );
}

function printPlanner(): void {
  const figures = benchPlanner();
  console.log('\nplanner: planSteps on synthetic facts (median of 7 samples)');
  console.log('services  scenario                                     ms/plan   us/service   steps');
  for (const f of figures) {
    console.log(
      `${String(f.services).padStart(8)}  ${f.scenario.padEnd(42)} ${f.medianMs.toFixed(3).padStart(9)}   ${f.perServiceUs.toFixed(2).padStart(10)}   ${String(f.steps).padStart(5)}`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '9' } } });
  const reps = Number(values.reps);
  if (!Number.isInteger(reps) || reps < 1)
    throw new Error(`--reps must be a positive integer, got ${values.reps}`);
  const started = Date.now();
  printPlanner();
  console.log('');
  await benchUpdates(reps);
  console.log(`\nbench took ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
