import type { Registry } from 'prom-client';
import type { UpdateStatus } from './device-facade.js';

const METRIC_PREFIX = 'bosun_';

/** Every update_status value, in the order of the state report (contract section 5). */
export const UPDATE_STATUSES: readonly UpdateStatus[] = [
  'downloading',
  'downloaded',
  'applying changes',
  'locked',
  'rejected',
  'aborted',
  'done',
];

/** Label values the agent uses; open strings so a new outcome needs no change here. */
export type PollResult = 'changed' | 'unchanged' | 'error' | (string & {});
export type ApplyResult = 'success' | 'failure' | 'locked' | 'aborted' | (string & {});
export type OverrideSource = 'api' | 'cloud' | 'service-env' | 'device' | (string & {});

/** What GET /metrics serves: the exposition text and its content type. */
export interface MetricsSource {
  scrape(): Promise<{ contentType: string; text: string }>;
}

export interface BosunMetrics extends MetricsSource {
  /**
   * The Prometheus registry, made on first use (the first scrape): prom-client is loaded only
   * then, so an agent nobody scrapes never holds it in memory. The series are filled from the
   * counts below at each collection. Of the default process metrics, event loop lag and GC
   * durations are observed from then on; the others (CPU, memory, handles) read the process.
   */
  registry(): Promise<Registry>;
  /** bosun_polls_total{result}: target-state polls by outcome. */
  recordPoll(result: PollResult): void;
  /** bosun_applies_total{result}: apply passes by outcome. */
  recordApply(result: ApplyResult): void;
  /**
   * bosun_update_status{app,status}: one series per app and possible status, 1 for the app's
   * current status and 0 for the others (kube-state-metrics style, so a dashboard can
   * `sum by (status)`).
   */
  setUpdateStatus(app: string, status: UpdateStatus): void;
  /** Drop an app's series (update_status, locked_seconds) when the app leaves the target. */
  forgetApp(app: string): void;
  /** bosun_locked_seconds_total{app}: time an app's update spent waiting on its lock. */
  addLockedSeconds(app: string, seconds: number): void;
  /** bosun_lock_overrides_total{source}: user locks removed under an override, by who asked. */
  recordLockOverride(source: OverrideSource): void;
  /** bosun_image_bytes_pulled_total: bytes downloaded by image pulls. */
  addImageBytesPulled(bytes: number): void;
}

/** The figures behind the series: plain counts, kept whether or not prom-client is loaded. */
interface Counts {
  polls: Map<string, number>;
  applies: Map<string, number>;
  updateStatus: Map<string, UpdateStatus>;
  lockedSeconds: Map<string, number>;
  lockOverrides: Map<string, number>;
  imageBytesPulled: number;
}

function add(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

/**
 * bosun's metrics and the default process metrics (prefixed `bosun_`). Each call is independent,
 * so tests and several agents in one process never share series. `app` labels carry the app uuid.
 */
export function createMetrics(): BosunMetrics {
  const counts: Counts = {
    polls: new Map(),
    applies: new Map(),
    updateStatus: new Map(),
    lockedSeconds: new Map(),
    lockOverrides: new Map(),
    imageBytesPulled: 0,
  };
  let registry: Promise<Registry> | undefined;
  // prom-client is CommonJS: its module.exports is the default export under Node and in the bundle
  // alike (esbuild's chunk for a dynamically imported CommonJS module has no named exports).
  const getRegistry = () =>
    (registry ??= import('prom-client').then(({ default: prom }) => buildRegistry(prom, counts)));

  return {
    registry: getRegistry,
    async scrape() {
      const reg = await getRegistry();
      return { contentType: reg.contentType, text: await reg.metrics() };
    },
    recordPoll: (result) => add(counts.polls, result, 1),
    recordApply: (result) => add(counts.applies, result, 1),
    setUpdateStatus: (app, status) => counts.updateStatus.set(app, status),
    forgetApp(app) {
      counts.updateStatus.delete(app);
      counts.lockedSeconds.delete(app);
    },
    addLockedSeconds(app, seconds) {
      // A clock step backwards must not make a counter go down (prom-client would throw).
      if (seconds > 0) add(counts.lockedSeconds, app, seconds);
    },
    recordLockOverride: (source) => add(counts.lockOverrides, source, 1),
    addImageBytesPulled(bytes) {
      if (bytes > 0) counts.imageBytesPulled += bytes;
    },
  };
}

/** The registry over `counts`: each metric copies its figures in when it is collected. */
function buildRegistry(prom: typeof import('prom-client'), counts: Counts): Registry {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = prom;
  const registry = new Registry();
  // Event loop delay sampled once a second: prom-client's default (every 10 ms) wakes the process
  // 100 times a second, which doubled an idle agent's CPU (0.72% of a core against 0.34%).
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: 1000 });
  const registers = [registry];

  const labelledCounter = (name: string, help: string, label: string, source: Map<string, number>) =>
    new Counter({
      name: `${METRIC_PREFIX}${name}`,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset();
        for (const [value, n] of source) this.inc({ [label]: value }, n);
      },
    });
  labelledCounter('polls_total', 'Target state polls, by result', 'result', counts.polls);
  labelledCounter('applies_total', 'Apply passes, by result', 'result', counts.applies);
  new Gauge({
    name: `${METRIC_PREFIX}update_status`,
    help: 'Update status per app: 1 for the current status, 0 for the others',
    labelNames: ['app', 'status'] as const,
    registers,
    collect() {
      this.reset();
      for (const [app, current] of counts.updateStatus) {
        for (const status of UPDATE_STATUSES) this.set({ app, status }, status === current ? 1 : 0);
      }
    },
  });
  labelledCounter(
    'locked_seconds_total',
    'Seconds an app update waited on its update lock',
    'app',
    counts.lockedSeconds,
  );
  labelledCounter(
    'lock_overrides_total',
    'Update locks overridden, by the source of the override',
    'source',
    counts.lockOverrides,
  );
  new Counter({
    name: `${METRIC_PREFIX}image_bytes_pulled_total`,
    help: 'Bytes downloaded by image pulls',
    registers,
    collect() {
      this.reset();
      this.inc(counts.imageBytesPulled);
    },
  });
  return registry;
}
