/**
 * Planner cost: `planSteps` on synthetic facts for apps of 10, 100 and 1000 services, in the
 * states a release change passes through. Pure CPU, no engine: shows the per-service cost stays
 * flat (linear growth). Used by reconcile.ts.
 */
import type { ContainerInfo } from '../../src/engine/types.js';
import { planSteps, type PlanFacts } from '../../src/reconcile/plan.js';
import { parseComposition } from '../../src/target/composition.js';
import { serviceConfigHash } from '../../src/target/config-hash.js';
import type { TargetApp, TargetService, TargetState } from '../../src/target/types.js';

export interface PlannerFigure {
  services: number;
  scenario: string;
  medianMs: number;
  perServiceUs: number;
  steps: number;
}

const APP_UUID = 'benchapp';
const APP_ID = 1;

/**
 * Every section-9 key a service on no network can carry at once, parsed as a device parses a
 * target: an unchanged release with all of them set must plan zero steps.
 */
const EVERY_KEY = parseComposition(
  {
    network_mode: 'none',
    privileged: true,
    devices: ['/dev/null:/dev/null:rwm'],
    device_cgroup_rules: ['c 1:3 mr'],
    cap_add: ['SYS_RAWIO'],
    cap_drop: ['MKNOD'],
    security_opt: ['no-new-privileges:true'],
    sysctls: { 'net.ipv4.ip_forward': '1' },
    ulimits: { nofile: { soft: 1024, hard: 2048 } },
    ipc: 'private',
    group_add: ['dialout'],
    shm_size: '64m',
    read_only: true,
    tmpfs: ['/run:size=16m'],
    mem_limit: '256m',
    mem_reservation: '128m',
    memswap_limit: '512m',
    cpu_shares: 512,
    cpu_quota: 50000,
    cpuset: '0',
    oom_kill_disable: false,
    oom_score_adj: 100,
    dns: ['127.0.0.53'],
    dns_search: ['local'],
    dns_opt: ['ndots:1'],
    extra_hosts: ['db:127.0.0.1'],
    hostname: 'svc',
    domainname: 'local',
    labels: { 'com.example.tier': 'edge' },
    logging: { driver: 'json-file', options: { 'max-size': '1m' } },
    stdin_open: true,
    expose: ['8080'],
    init: true,
    healthcheck: { test: ['CMD', 'true'], interval: '30s' },
    stop_signal: 'SIGINT',
    stop_grace_period: '10s',
  },
  'bench',
  [],
);

function service(i: number, release: number, everyKey = false): TargetService {
  return {
    serviceName: `svc${i}`,
    serviceId: i,
    imageId: release * 10_000 + i,
    image: `127.0.0.1:5000/bench/svc${i}:${release}`,
    environment: { MODE: 'prod', INDEX: String(i) },
    labels: {},
    running: true,
    composition: {
      ...(everyKey ? EVERY_KEY : {}),
      restart: 'always',
      networkMode: 'none',
      volumes: [],
      // A chain of dependencies, so depends_on checks have real work to do.
      dependsOn: i > 0 ? [`svc${i - 1}`] : [],
      stopGracePeriodSec: 10,
    },
    strategy: 'download-then-kill',
    handoverTimeoutMs: 60_000,
    overrideLock: false,
    supervisorApi: false,
  };
}

function app(n: number, release: number, everyKey = false): TargetApp {
  const services = Array.from({ length: n }, (_, i) => service(i, release, everyKey));
  return {
    appUuid: APP_UUID,
    appId: APP_ID,
    name: 'bench',
    class: 'fleet',
    release: {
      uuid: `rel${release}`,
      id: release,
      services: Object.fromEntries(services.map((s) => [s.serviceName, s])),
      volumes: {},
      networks: {},
    },
  };
}

function containersOf(a: TargetApp): ContainerInfo[] {
  const release = a.release!;
  return Object.values(release.services).map((s, i) => ({
    id: `${release.uuid}-c${i}`,
    name: `${s.serviceName}_${s.imageId}_${release.id}_${release.uuid}`,
    image: s.image,
    status: 'running',
    appId: a.appId,
    appUuid: a.appUuid,
    serviceName: s.serviceName,
    serviceId: s.serviceId,
    imageId: s.imageId,
    releaseId: release.id,
    releaseUuid: release.uuid,
    configHash: serviceConfigHash(s),
    labels: {},
    createdAt: `2026-01-01T00:00:00.${String(i % 1000).padStart(3, '0')}Z`,
    startedAt: '2026-01-01T00:01:00Z',
  }));
}

function facts(over: Partial<PlanFacts>): PlanFacts {
  return {
    now: Date.parse('2026-01-01T00:02:00Z'),
    containers: [],
    images: new Set(),
    pulledImages: new Set(),
    volumes: [],
    appDataIds: new Set([APP_ID]),
    locks: {},
    override: { device: false, force: false },
    handoverDone: new Set(),
    heldStopped: new Set(),
    context: {
      deviceUuid: 'benchdevice',
      layout: { lockDir: '/tmp/bench/locks', dataDir: '/tmp/bench/data' },
      apiHost: '127.0.0.1',
      apiPort: 48484,
      appKeys: {},
    },
    ...over,
  };
}

/** The states of one release change, each a realistic planner input. */
function scenarios(n: number): Array<{ name: string; target: TargetState; facts: PlanFacts }> {
  const r1 = app(n, 1);
  const r2 = app(n, 2);
  const target: TargetState = { uuid: 'benchdevice', config: {}, apps: { [APP_UUID]: r2 } };
  const oldImages = new Set(Object.values(r1.release!.services).map((s) => s.image));
  const allImages = new Set([...oldImages, ...Object.values(r2.release!.services).map((s) => s.image)]);
  const held = { [APP_UUID]: { userLocks: [], agentHolds: true } };
  const rich = app(n, 2, true);
  return [
    {
      name: 'fetch (old running, new images missing)',
      target,
      facts: facts({ containers: containersOf(r1), images: oldImages }),
    },
    {
      name: 'kill (images present, lock held)',
      target,
      facts: facts({ containers: containersOf(r1), images: allImages, locks: held }),
    },
    { name: 'create (old gone)', target, facts: facts({ images: allImages, locks: held }) },
    {
      name: 'converged (all current, running)',
      target,
      facts: facts({ containers: containersOf(r2), images: allImages }),
    },
    {
      name: 'converged, every section-9 key set',
      target: { ...target, apps: { [APP_UUID]: rich } },
      facts: facts({ containers: containersOf(rich), images: allImages }),
    },
  ];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Times planSteps: each sample runs it enough times to last ~20 ms; the median of `samples`. */
export function benchPlanner(sizes: number[] = [10, 100, 1000], samples = 7): PlannerFigure[] {
  const figures: PlannerFigure[] = [];
  // Warm the JIT on every scenario first, so the smallest size is not charged for compilation.
  for (const n of sizes)
    for (const s of scenarios(n)) for (let k = 0; k < 20; k += 1) planSteps(s.target, s.facts);
  for (const n of sizes) {
    for (const s of scenarios(n)) {
      let steps = planSteps(s.target, s.facts).steps.length; // warm-up, and a sanity figure
      const perCall: number[] = [];
      for (let k = 0; k < samples; k += 1) {
        let calls = 0;
        const start = process.hrtime.bigint();
        let elapsed = 0;
        while (elapsed < 20 || calls < 3) {
          steps = planSteps(s.target, s.facts).steps.length;
          calls += 1;
          elapsed = Number(process.hrtime.bigint() - start) / 1e6;
        }
        perCall.push(elapsed / calls);
      }
      const medianMs = median(perCall);
      figures.push({ services: n, scenario: s.name, medianMs, perServiceUs: (medianMs * 1000) / n, steps });
    }
  }
  return figures;
}

export { median };
