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
    const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
      throw new AlreadyRunningError(dataDir, pid);
    log.warn({ dataDir, pid: pid || undefined }, 'taking over the data dir lock of an agent that is gone');
    await fs.rm(lockPath, { recursive: true, force: true });
    release = await take().catch((retryErr: NodeJS.ErrnoException) => {
      if (retryErr.code === 'ELOCKED') throw new AlreadyRunningError(dataDir);
      throw retryErr;
    });
  }
  await fs.writeFile(pidFile, String(process.pid));
  return async () => {
    await fs.rm(pidFile, { force: true });
    await release();
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
