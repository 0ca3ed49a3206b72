import type { ContainerInfo, Engine } from '../engine/types.js';
import type { JsonStore } from '../store/json-store.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import { LogBuffer } from './buffer.js';
import { LogCursors } from './cursors.js';
import { LogFollower } from './follower.js';
import { LocalLogStream, type LocalLogSource } from './local-stream.js';
import { LogShipper, type LogShipperDeps } from './shipper.js';
import { systemLine, type DeviceLogLine } from './types.js';

/** In local mode, where the local stream has got to is written at most this often. */
const LOCAL_CURSOR_PERSIST_MS = 5_000;

export interface DeviceLogsOptions {
  engine: Engine;
  store: JsonStore;
  log: Logger;
  /** Unsent lines kept at most (BOSUN_LOG_BUFFER_LINES). */
  bufferLines: number;
  /** Where to ship to; absent in local mode (nothing is shipped). */
  cloud?: Pick<LogShipperDeps, 'endpoint' | 'uuid' | 'getDeviceKey' | 'userAgent'> &
    Partial<Pick<LogShipperDeps, 'gatherMs' | 'backoff' | 'batchLines' | 'random'>>;
}

/** The device's logs, as the agent holds them: what the composition root wires in. */
export interface DeviceLogs {
  /** The device's containers as a pass read them: follow the new ones, let the gone ones go. */
  syncContainers(containers: readonly ContainerInfo[]): void;
  /** A line of the agent's own (an update event). */
  system(message: string): void;
  /** For GET /v2/local/logs. */
  local: LocalLogSource;
  /** Managed: the device has its key now; lines buffered so far and from now on are shipped. */
  startShipping(): void;
  /** Stops following, sends what is buffered (one attempt) and records where it got to. */
  stop(): Promise<void>;
}

/**
 * Wires the log modules: follower -> (local stream, and buffer -> shipper when managed). A line
 * counts as delivered, and its container's cursor moves on, once the cloud took it (managed) or
 * once the local stream has it (local mode).
 */
export async function startDeviceLogs(options: DeviceLogsOptions): Promise<DeviceLogs> {
  const { log } = options;
  const cursors = await LogCursors.load(options.store, log);
  const local = new LocalLogStream();
  const buffer = new LogBuffer<DeviceLogLine>(options.bufferLines);
  const shipper = options.cloud
    ? new LogShipper({
        ...options.cloud,
        buffer,
        log,
        onDelivered: async (lines) => {
          cursors.record(lines);
          await cursors.persist();
        },
      })
    : undefined;
  const persistTimer = shipper
    ? undefined
    : setInterval(() => void cursors.persist(), LOCAL_CURSOR_PERSIST_MS);
  persistTimer?.unref();

  let shipping = false;
  const accept = (line: DeviceLogLine) => {
    local.publish(line);
    if (shipper) {
      buffer.push(line);
      if (shipping) shipper.notify();
    } else {
      cursors.record([line]);
    }
  };
  const follower = new LogFollower({
    engine: options.engine,
    cursors,
    log,
    onLine: (line) => {
      try {
        accept(line);
      } catch (err) {
        // Called from the engine's stream handler, where a throw would end the process.
        log.error({ err: errorMessage(err) }, 'cannot take a log line');
      }
    },
  });

  return {
    syncContainers: (containers) => follower.sync(containers),
    system: (message) => accept(systemLine(message)),
    local,
    startShipping: () => {
      shipping = true;
      shipper?.notify();
    },
    stop: async () => {
      if (persistTimer) clearInterval(persistTimer);
      await follower.stop();
      if (shipper && shipping) {
        const delivered = await shipper.flush();
        if (!delivered) log.warn({ unsent: buffer.unsent }, 'log lines left unsent at shutdown');
        await shipper.stop();
      }
      await cursors.persist();
    },
  };
}
