import { AppActions } from './app-actions.js';
import { createDeviceFacade } from './facade.js';
import { AppKeys } from './app-keys.js';
import { loadIdentity, saveDeviceKey, type Identity } from './identity.js';
import { TargetKeeper } from './target-keeper.js';
import { buildDeviceReport, buildDeviceView, withDeadline } from './view.js';
import type { DeviceView } from '../api/device-facade.js';
import { createMetrics, type BosunMetrics } from '../api/metrics.js';
import { ApiFront } from '../api/front.js';
import { lazyApiApp } from '../api/lazy-app.js';
import { DEFAULT_CONNECTION_LIMITS } from '../api/connection-limits.js';
import { GatewayListeners } from '../api/gateway-listeners.js';
import { LABELS } from '../engine/types.js';
import { TargetPoller } from '../cloud/target-poller.js';
import { registerDevice } from '../cloud/register.js';
import { StateReporter } from '../cloud/state-reporter.js';
import type { DeviceReport } from '../cloud/report-types.js';
import { readCloudSettings } from '../config/cloud-config.js';
import { resolveAppPolicy } from '../policy/update-policy.js';
import { loadDevicePolicy } from '../policy/device-policy.js';
import { admitTarget } from '../policy/target-admission.js';
import { ReleaseHistory } from '../policy/release-history.js';
import type { AgentConfig } from '../config/schema.js';
import { DockerEngine } from '../engine/docker-engine.js';
import { unixSocketPath } from '../engine/docker-mapping.js';
import type { Engine } from '../engine/types.js';
import { ensureTrustedBase } from '../host/trusted-dirs.js';
import { Quarantine } from '../host/quarantine.js';
import { LockManager } from '../locks/lock-manager.js';
import { startDeviceLogs, type DeviceLogsOptions } from '../logs/device-logs.js';
import type { LockLayout } from '../locks/paths.js';
import { lockSubjects } from '../reconcile/facts.js';
import { ReconcileLoop } from '../reconcile/reconcile-loop.js';
import type { PassFacts } from '../reconcile/loop-types.js';
import type { TargetState } from '../target/types.js';
import { healthVerdict } from './health.js';
import { OrderedHandoff } from './ordered-handoff.js';
import { PassMetrics } from './pass-metrics.js';
import { ReportRefresher } from './report-refresher.js';
import { JsonStore } from '../store/json-store.js';
import { PersistedSet } from '../store/persisted-set.js';
import { readBootId } from '../util/boot-id.js';
import { createLogger, type Logger } from '../util/logger.js';
import { untilStopSignal } from '../util/signals.js';
import { lockDataDir } from './instance-lock.js';
import { VERSION } from '../version.js';

export interface AgentOptions {
  /** Another engine (the in-memory one, for the simulated fleet). Default: Docker at config.dockerHost. */
  engine?: Engine;
  log?: Logger;
  /** Loop timings, for tests and the simulated fleet. */
  loop?: {
    fallbackPollMs?: number;
    resyncMs?: number;
    backoff?: { baseMs: number; capMs: number };
    /** The clock update windows and deadlines are read from (tests move it). */
    now?: () => number;
  };
  /** Host address containers reach the local API at (default 127.0.0.1, for host networking). */
  apiHost?: string;
  /** Least time between polls that /v1/update triggers (tests); see MIN_TRIGGERED_POLL_GAP_MS. */
  pollTriggerGapMs?: number;
  /** Log shipping timings (tests): how long a batch gathers, and the backoff while the cloud is away. */
  logShipping?: Pick<NonNullable<DeviceLogsOptions['cloud']>, 'gatherMs' | 'backoff'>;
  /**
   * false: no local API (apiPort stays config.listenPort). Only for the simulated fleet at scale:
   * a thousand agents in one process would hold a thousand listening sockets nobody calls (and
   * any request would build a thousand fastify apps; before the API was built on first use, they
   * were all built at start, which cost more than starting everything else), and those tests
   * and benchmarks talk to the fleet backend only. `bosun agent` always has its API.
   */
  localApi?: boolean;
}

/** A running agent: what tests and the simulated fleet hold on to. */
export interface RunningAgent {
  identity: Identity;
  apiPort: number;
  loop: ReconcileLoop;
  keeper: TargetKeeper;
  metrics: BosunMetrics;
  locks: LockManager;
  view(): Promise<DeviceView>;
  stop(): Promise<void>;
}

/**
 * The composition root: builds every part from the config and starts them in the right order
 * (API first, so containers learn its real port; then the loop; then the cloud link).
 */
export async function startAgent(config: AgentConfig, options: AgentOptions = {}): Promise<RunningAgent> {
  const log = options.log ?? createLogger(config.logLevel);
  const localMode = config.apiEndpoint === '';
  // Read before anything starts: a bad policy file stops start-up (exit 2), nothing half-done.
  const devicePolicy = await loadDevicePolicy(config.policyFile);
  const hostDockerSocket = unixSocketPath(config.dockerHost);
  // Both bases are checked (and made) so that no local user can steer what the agent creates,
  // mounts or deletes under them; from here on their real paths are used.
  const layout: LockLayout = {
    dataDir: await ensureTrustedBase(config.dataDir, 0o700),
    lockDir: await ensureTrustedBase(config.lockDir, 0o755),
  };
  const releaseInstanceLock = await lockDataDir(layout.dataDir, log);
  const store = new JsonStore(layout.dataDir, log);
  const engine = options.engine ?? new DockerEngine({ dockerHost: config.dockerHost, log });
  // The engine's container labels are the fallback for a damaged identity file.
  const identity = await loadIdentity(config, store, {
    listContainersOfAllDevices: () => engine.listContainersOfAllDevices(),
    log,
  });
  const quarantine = new Quarantine([layout.lockDir, layout.dataDir], log);
  quarantine.emptySoon();
  const locks = new LockManager(layout, identity.uuid, log, quarantine);
  await locks.removeStaleAgentLocks();
  const appKeys = new AppKeys(store);
  await appKeys.load();
  const metrics = createMetrics();
  // Containers stopped through the API stay stopped across agent restarts, but not across a reboot
  // (the boot id is the record's epoch): the engine's restart policy decides again then, as balena
  // documents for its v1 stop.
  const heldStopped = await new PersistedSet(store, 'held-stopped', await readBootId()).load();
  let apiPort = config.listenPort;
  let latestReport: DeviceReport | undefined;
  /** Apps that have bosun_update_status series now, so the ones that leave are dropped. */
  let appsInMetrics = new Set<string>();
  let reporter: StateReporter | undefined;
  let poller: TargetPoller | undefined;
  const userAgent = `bosun/${VERSION}`;
  // Service output and update events: shipped to the cloud once the device has its key (below),
  // and streamed on the local API in either mode.
  const deviceLogs = await startDeviceLogs({
    engine,
    store,
    log,
    bufferLines: config.logBufferLines,
    cloud: localMode
      ? undefined
      : {
          endpoint: config.apiEndpoint,
          uuid: identity.uuid,
          getDeviceKey: () => identity.deviceApiKey,
          userAgent,
          ...options.logShipping,
        },
  });

  const cloudSettings = () => readCloudSettings(keeper.target?.config);
  const deviceOverride = () => config.overrideLock || cloudSettings().overrideLock;
  /** Set once the API listens; the loop's first pass comes after that. */
  let gateways: GatewayListeners | undefined;
  const loop = new ReconcileLoop({
    deviceUuid: identity.uuid,
    engine,
    locks,
    layout,
    quarantine,
    log,
    specContext: () => ({
      deviceUuid: identity.uuid,
      deviceName: keeper.target?.name,
      layout,
      apiHost: options.apiHost ?? '127.0.0.1',
      apiPort,
      appKeys: appKeys.all(),
      hostDockerSocket,
      apiEndpoint: config.apiEndpoint,
      // Read at every pass: registration sets the key after the agent has started.
      deviceApiKey: identity.deviceApiKey,
    }),
    deviceOverride,
    heldStopped,
    pulledImages: await new PersistedSet(store, 'pulled-images').load(),
    lockWatch: config.lockWatch,
    ...options.loop,
    onStatus: () => reports.request(),
    releaseHistory: await new ReleaseHistory(store).load(),
    updatePolicy: (app, target) =>
      resolveAppPolicy(app, target.config, {
        lockDeadline: config.updateLockDeadline,
        updateWindow: config.updateWindow,
        probation: config.updateProbation,
      }),
    onPass: (outcome) => {
      passMetrics.record(outcome);
      if (outcome.kind !== 'failed') {
        lastPassFacts = outcome.facts;
        deviceLogs.syncContainers(outcome.facts.containers);
      }
      reports.request();
    },
    onLockOverridden: (appUuid, paths, byDeadline) => {
      metrics.recordLockOverride(
        byDeadline
          ? 'deadline'
          : overrideSource(loop.status.forced, config.overrideLock, cloudSettings().overrideLock),
      );
      log.warn({ appUuid, paths }, 'user update locks removed under an override');
    },
    onPullBytes: (bytes) => metrics.addImageBytesPulled(bytes),
    onEvent: (message) => deviceLogs.system(message),
    // The local API follows the gateways of the networks this agent made (and only those).
    onNetworks: async (networks) =>
      gateways?.sync(
        networks
          .filter((n) => n.labels[LABELS.deviceUuid] === identity.uuid && n.gateway !== undefined)
          .map((n) => n.gateway!),
      ),
  });

  const keeper = new TargetKeeper({
    uuid: identity.uuid,
    store,
    log,
    onAccepted: (target) => {
      const { pollIntervalOutOfRange: asked, pollIntervalMs: used } = readCloudSettings(target.config);
      if (asked !== undefined) {
        log.warn(
          { asked, used },
          'SUPERVISOR_POLL_INTERVAL out of range (10 s to 7 days); using the nearest bound',
        );
      }
      const apiApps = Object.values(target.apps).filter((a) =>
        Object.values(a.release?.services ?? {}).some((s) => s.supervisorApi),
      );
      void handoff.hand({ target, appIds: apiApps.map((a) => a.appId) });
      reports.request();
    },
    onRejected: () => reports.request(),
    admit: (target) => admitTarget(target, { policy: devicePolicy, hostDockerSocket }),
  });
  // Targets reach the loop in the order they were accepted, each once its app keys are stored.
  const handoff = new OrderedHandoff<{ target: TargetState; appIds: number[] }>(
    ({ appIds }) => appKeys.ensure(appIds).catch((err) => log.error({ err }, 'cannot persist app API keys')),
    ({ target }) => loop.setTarget(target),
  );

  const buildView = (facts: PassFacts): DeviceView =>
    buildDeviceView({
      uuid: identity.uuid,
      version: VERSION,
      localMode,
      target: keeper.target,
      targetError: keeper.targetError,
      targetWarnings: keeper.targetWarnings,
      rejectedReleases: keeper.rejectedReleases,
      containers: facts.containers,
      locks: facts.locks,
      loop: loop.status,
    });
  /** The device as the API shows it: read fresh from the engine and the lock files. */
  const view = async (): Promise<DeviceView> => {
    const containers = await engine.listContainers(identity.uuid);
    return buildView({ containers, locks: await locks.list(lockSubjects(keeper.target, containers)) });
  };

  // The cloud report is rebuilt after status changes, coalesced, from what the last pass read
  // (containers and locks): no second read of the world per pass. Only before the first pass does
  // it read the world itself.
  let lastPassFacts: PassFacts | undefined;
  const passMetrics = new PassMetrics(metrics);
  const reports = new ReportRefresher(async () => {
    try {
      const v = lastPassFacts ? buildView(lastPassFacts) : await view();
      latestReport = buildDeviceReport(v, apiPort, keeper.rejectedReleases);
      for (const app of v.apps) metrics.setUpdateStatus(app.appUuid, app.updateStatus);
      // An app that left the device must not linger in /metrics with its last status.
      const shown = new Set(v.apps.map((app) => app.appUuid));
      for (const appUuid of appsInMetrics) if (!shown.has(appUuid)) metrics.forgetApp(appUuid);
      appsInMetrics = shown;
      reporter?.notify();
    } catch (err) {
      log.warn({ err }, 'cannot build the state report');
    }
  }, REPORT_REBUILD_DELAY_MS);

  const actions = new AppActions({
    loop,
    target: () => keeper.target,
    rebootCommand: config.rebootCommand,
    shutdownCommand: config.shutdownCommand,
  });
  const facade = createDeviceFacade({
    actions,
    keeper,
    appKeys,
    globalKey: identity.apiKey,
    localMode,
    view,
    locks: async () => {
      const present = await locks.list(
        lockSubjects(keeper.target, await engine.listContainers(identity.uuid)),
      );
      return present.map((l) => withDeadline([l], loop.status.apps[l.appUuid]?.lockDeadlineAt)[0]!);
    },
    // Only the poll waits for the trigger gap (src/cloud/target-poller.ts); the apply, and a force reaching
    // an apply that waits on a lock, act at once on the target the device already has.
    triggerUpdate: ({ force, cancel, caller }) => {
      const instant = cloudSettings().instantUpdateTrigger;
      if (!force && !instant) return false;
      if (poller) poller.triggerPoll({ force });
      // An app's key forces past its own app's locks only; the other apps keep honouring theirs.
      const scopedForce = caller.scope === 'global' ? { force } : { forceApps: force ? [caller.appId] : [] };
      loop.trigger({ ...scopedForce, cancel });
      return true;
    },
    healthy: () =>
      healthVerdict({
        now: Date.now(),
        passStartedAt: loop.status.passStartedAt,
        failingSince: loop.status.failingSince,
        pollerHealthy: poller?.healthy() ?? true,
      }),
  });

  // Listening now, built on its first request (src/api/front.ts): most devices' apps never call it.
  const api =
    options.localApi === false
      ? undefined
      : new ApiFront({
          limits: DEFAULT_CONNECTION_LIMITS,
          log,
          build: lazyApiApp({ facade, log, metrics, localMode, version: VERSION, logs: deviceLogs.local }),
        });
  try {
    if (api) {
      apiPort = await api.listen(config.listenAddress, config.listenPort);
      log.info({ address: config.listenAddress, port: apiPort }, 'local API listening');
      gateways = new GatewayListeners({
        server: api.server,
        listenAddress: config.listenAddress,
        port: apiPort,
        maxConnections: DEFAULT_CONNECTION_LIMITS.maxConnections,
        log,
      });
    }

    await keeper.load({ preloadFile: config.targetStateFile || undefined, localMode });
    loop.start();

    if (!localMode) {
      if (!identity.deviceApiKey && config.provisioningKey) {
        const key = await registerDevice({
          endpoint: config.apiEndpoint,
          uuid: identity.uuid,
          fleet: config.fleet,
          provisioningKey: config.provisioningKey,
          store,
          log,
          userAgent,
        });
        await saveDeviceKey(store, identity, key);
        log.info({ uuid: identity.uuid, fleet: config.fleet }, 'device registered');
      }
      deviceLogs.startShipping();
      // What the poller and the reporter both need to talk to the cloud as this device.
      const asDevice = {
        endpoint: config.apiEndpoint,
        uuid: identity.uuid,
        getDeviceKey: () => identity.deviceApiKey,
        store,
        log,
        userAgent,
      };
      poller = new TargetPoller({
        ...asDevice,
        onTarget: (doc) => keeper.offerCloudDocument(doc),
        // Validation failures are recorded by the keeper itself; this also catches bodies that
        // never reached it (not JSON, truncated), and must not lose their reason.
        onRejected: (reason) => {
          if (keeper.targetError !== reason) keeper.recordRejection(reason);
          reports.request();
        },
        intervalMs: () => cloudSettings().pollIntervalMs ?? config.pollIntervalMs,
        instantUpdates: () => cloudSettings().instantUpdateTrigger,
        triggerGapMs: options.pollTriggerGapMs,
        onPollResult: (result) => {
          metrics.recordPoll(result);
          if (result === 'unchanged' && keeper.targetError !== null) {
            keeper.clearRejection();
            reports.request();
          }
        },
      });
      reporter = new StateReporter({
        ...asDevice,
        getState: () => latestReport ?? emptyReport(apiPort),
        intervalMs: config.reportIntervalMs,
      });
      poller.start();
      reports.request();
    } else if (!keeper.target) {
      log.warn('local mode and no target: set BOSUN_TARGET_STATE_FILE or POST /v2/local/target-state');
    }
  } catch (err) {
    await gateways?.close();
    await api?.close();
    await loop.stop();
    await deviceLogs.stop();
    await releaseInstanceLock();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    identity,
    apiPort,
    loop,
    keeper,
    metrics,
    locks,
    view,
    stop: () =>
      (stopping ??= (async () => {
        log.info('agent stopping');
        await poller?.stop();
        await loop.stop();
        // After the loop, so its last events are in; one attempt to ship what is buffered.
        await deviceLogs.stop();
        // The last status changes must be in the final report, not in a rebuild still delayed.
        await reports.flush();
        await reporter?.flush().catch((err) => log.warn({ err }, 'final state report failed'));
        await reporter?.stop();
        await gateways?.close();
        await api?.close();
        await quarantine.settled();
        await releaseInstanceLock();
        log.info('agent stopped');
      })()),
  };
}

/** A burst of status changes within this long is folded into one report rebuild. */
const REPORT_REBUILD_DELAY_MS = 50;

function overrideSource(forced: boolean, device: boolean, cloud: boolean): string {
  if (forced) return 'api';
  if (device) return 'device';
  if (cloud) return 'cloud';
  return 'service-env';
}

function emptyReport(apiPort: number): DeviceReport {
  return {
    api_port: apiPort,
    status: 'Idle',
    update_locks: [],
    target_error: null,
    target_warnings: [],
    apps: {},
  };
}

/**
 * `bosun agent`: run until SIGTERM or SIGINT, then stop cleanly and exit 0. Stopping the agent
 * stops no app: containers keep running (as under balena-supervisor); the step in flight finishes
 * or is aborted, and the agent's own locks are released.
 */
export async function runAgent(config: AgentConfig): Promise<void> {
  const log = createLogger(config.logLevel);
  const agent = await startAgent(config, { log });
  log.info({ uuid: agent.identity.uuid, apiPort: agent.apiPort }, 'agent started');
  const signal = await untilStopSignal();
  log.info({ signal }, 'signal received');
  await agent.stop();
}
