import { compareCursors, cursorMinusSeconds } from '../engine/log-cursor.js';
import type { ContainerInfo, ContainerLogLine, Engine } from '../engine/types.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { LogCursors } from './cursors.js';
import type { DeviceLogLine, LogStream, StreamCursors } from './types.js';

/**
 * A follow starts this much before the earlier of its streams' cursors: the engine stamps the
 * two streams in separate readers, so a line of one stream may be kept after a later-stamped
 * line of the other. Lines at or before their own stream's cursor are skipped.
 */
const SINCE_MARGIN_SECONDS = 1;

export interface LogFollowerDeps {
  engine: Engine;
  /** Where each container's delivered log ends (persisted): a follow resumes after it. */
  cursors: LogCursors;
  log: Logger;
  /** Each new line, in the order the engine gives them. Must not throw. */
  onLine: (line: DeviceLogLine) => void;
}

interface Follow {
  abort: AbortController;
  done: Promise<void>;
}

/**
 * Follows the output of the device's containers through the engine. `sync` is handed the
 * containers each reconcile pass read: a container that runs is followed until it stops; one
 * that ran since it was last read to the end (it exited between two passes) is read once more,
 * so a short-lived process's lines are not lost.
 *
 * No line is handed on twice: a follow resumes after the container's last lines read in this
 * run, else after its last lines delivered before (the persisted cursors, after a restart), else
 * from the container's start; per stream, lines at or before that point are skipped (the
 * engine's `since` is inclusive, and starts a little earlier: SINCE_MARGIN_SECONDS).
 */
export class LogFollower {
  private readonly follows = new Map<string, Follow>();
  /** Per container, the start (its StartedAt) whose log was read to the end. */
  private readonly drainedStarts = new Map<string, string>();
  /** Per container and stream, the last line read in this run (ahead of the delivered cursors). */
  private readonly readCursors = new Map<string, StreamCursors>();
  private stopped = false;

  constructor(private readonly deps: LogFollowerDeps) {}

  /** The device's containers now (all of them, in any state): follow, re-read or let go. */
  sync(containers: readonly ContainerInfo[]): void {
    if (this.stopped) return;
    const present = new Set(containers.map((c) => c.id));
    for (const container of containers) {
      if (this.follows.has(container.id) || container.startedAt === undefined) continue;
      const drained = this.drainedStarts.get(container.id) === container.startedAt;
      if (container.status === 'running' || !drained) this.follow(container);
    }
    for (const [id, follow] of this.follows) if (!present.has(id)) follow.abort.abort();
    for (const map of [this.drainedStarts, this.readCursors]) {
      for (const id of map.keys()) if (!present.has(id)) map.delete(id);
    }
    this.deps.cursors.retain(present);
  }

  /** How many containers are followed now. */
  get following(): number {
    return this.follows.size;
  }

  /** Stops every follow and waits for them to end. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const follow of this.follows.values()) follow.abort.abort();
    await Promise.all([...this.follows.values()].map((f) => f.done));
  }

  private follow(container: ContainerInfo): void {
    const { id, startedAt, serviceName, appId } = container;
    const read: StreamCursors = { ...(this.readCursors.get(id) ?? this.deps.cursors.get(id)) };
    this.readCursors.set(id, read);
    const since = earliest(read);
    const abort = new AbortController();
    this.deps.log.debug({ containerId: id, serviceName, since: read }, 'following a container log');
    const onLine = (line: ContainerLogLine) => {
      const stream: LogStream = line.isStderr ? 'stderr' : 'stdout';
      const last = read[stream];
      if (last !== undefined && compareCursors(line.cursor, last) <= 0) return;
      read[stream] = line.cursor;
      this.deps.onLine({
        message: line.message,
        timestamp: line.timestamp,
        serviceName,
        isStderr: line.isStderr,
        appId,
        source: { containerId: id, stream, cursor: line.cursor },
      });
    };
    const done = this.deps.engine
      .followLogs(id, {
        since: since === undefined ? undefined : cursorMinusSeconds(since, SINCE_MARGIN_SECONDS),
        onLine,
        signal: abort.signal,
      })
      .then(
        () => {
          this.deps.log.debug({ containerId: id, aborted: abort.signal.aborted }, 'container log ended');
          if (!abort.signal.aborted && startedAt !== undefined) this.drainedStarts.set(id, startedAt);
        },
        (err: unknown) => {
          // Read again at the next pass, from where it got to.
          this.deps.log.warn({ containerId: id, err: errorMessage(err) }, 'cannot follow a container log');
        },
      )
      .finally(() => this.follows.delete(id));
    this.follows.set(id, { abort, done });
  }
}

/**
 * The earlier of the streams' cursors; undefined when neither has one (read from the start). A
 * stream without one has had no line delivered, so all of its lines the follow gives are new.
 */
function earliest(cursors: StreamCursors): string | undefined {
  const { stdout, stderr } = cursors;
  if (stdout === undefined || stderr === undefined) return stdout ?? stderr;
  return compareCursors(stdout, stderr) <= 0 ? stdout : stderr;
}
