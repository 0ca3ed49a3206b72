/** One line of a device's log as the cloud receives it (contract section 12), NDJSON on the wire. */
export interface LogWireLine {
  message: string;
  /** ms since the epoch. */
  timestamp: number;
  serviceName?: string;
  isStderr?: boolean;
  isSystem?: boolean;
}

/** A line in the agent's hands: the wire line, and where it came from. */
export interface DeviceLogLine extends LogWireLine {
  /** The app a service line belongs to: an app's API key sees its own app's lines only. */
  appId?: number;
  /** Where the container's output on its stream stands once this line is delivered. */
  source?: { containerId: string; stream: LogStream; cursor: string };
}

export type LogStream = 'stdout' | 'stderr';

/**
 * Where a container's log stands, per stream (engine/log-cursor.ts). Per stream, because the
 * engine stamps stdout and stderr in two separate readers: each stream's times only grow, but
 * a stderr line may be kept after a stdout line stamped later than it.
 */
export type StreamCursors = Partial<Record<LogStream, string>>;

/** The wire form: only the contract's fields, the optional ones only when they say something. */
export function toWireLine(line: DeviceLogLine): LogWireLine {
  const wire: LogWireLine = { message: line.message, timestamp: line.timestamp };
  if (line.serviceName !== undefined) wire.serviceName = line.serviceName;
  if (line.isStderr) wire.isStderr = true;
  if (line.isSystem) wire.isSystem = true;
  return wire;
}

/** A line the agent itself says (an update started, waits on a lock, rolled back). */
export function systemLine(message: string, now = Date.now()): DeviceLogLine {
  return { message, timestamp: now, isSystem: true };
}
