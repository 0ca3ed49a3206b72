import { promises as fs } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { BosunError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

/** Another agent already runs on this data dir. */
export class AlreadyRunningError extends BosunError {
  override name = 'AlreadyRunningError';
  constructor(dataDir: string, pid?: number) {
    super(
      'EALREADY_RUNNING',
      `another bosun agent${pid ? ` (pid ${pid})` : ''} is already running with data dir ${dataDir}`,
    );
  }
}

/**
 * One agent per data dir: a second one would fight the first over containers and locks.
 * proper-lockfile keeps a lock dir fresh while we run. A lock whose recorded PID is gone belongs
 * to an agent that was killed: it is taken over at once rather than after `stale` runs out, so a
 * supervisor restarting a SIGKILLed agent is not refused.
 */
export async function lockDataDir(dataDir: string, log: Logger): Promise<() => Promise<void>> {
  const lockPath = path.join(dataDir, 'agent.lock');
  const pidFile = path.join(dataDir, 'agent.pid');
  const take = () =>
    lockfile.lock(dataDir, {
      lockfilePath: lockPath,
      stale: 10_000,
      update: 2_000,
      realpath: false,
      onCompromised: (err) => log.error({ err }, 'single-instance lock on the data dir was compromised'),
    });
  let release: () => Promise<void>;
  try {
    release = await take();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') {
      throw new BosunError('EDATADIR', `cannot lock data dir ${dataDir}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const holder = parseHolder(await fs.readFile(pidFile, 'utf8').catch(() => ''));
    if (!holder || holderIsAlive(holder)) throw new AlreadyRunningError(dataDir, holder?.pid);
    log.warn({ dataDir, pid: holder.pid }, 'taking over the data dir lock of an agent that is gone');
    await fs.rm(lockPath, { recursive: true, force: true });
    release = await take().catch((retryErr: NodeJS.ErrnoException) => {
      if (retryErr.code === 'ELOCKED') throw new AlreadyRunningError(dataDir);
      throw retryErr;
    });
  }
  await fs.writeFile(pidFile, `${process.pid} ${PROCESS_STARTED}`);
  return async () => {
    await fs.rm(pidFile, { force: true });
    await release();
  };
}

/**
 * When this process started: with the pid it tells this process (another agent in it holds the
 * lock) from an earlier process that had the same pid (a restarted container's PID 1).
 */
const PROCESS_STARTED = Math.round(performance.timeOrigin);

interface Holder {
  pid: number;
  started?: number;
}

/** The pid file: `<pid> <process start ms>` (older agents wrote the pid alone). */
function parseHolder(text: string): Holder | undefined {
  const [pid, started] = text.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(pid) || pid! <= 0) return undefined;
  return { pid: pid!, started: Number.isInteger(started) ? started : undefined };
}

/**
 * A lock is taken over only from a holder known to be gone. No readable pid file means the
 * holder has just taken the lock and not yet written it: alive (a crash right there leaves a lock
 * that goes stale, and proper-lockfile takes it then).
 */
function holderIsAlive(holder: Holder): boolean {
  if (holder.pid === process.pid) return holder.started === PROCESS_STARTED;
  return isAlive(holder.pid);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
