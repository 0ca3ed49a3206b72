import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RecordingEngine } from '../../helpers/recording-engine.js';
import {
  deviceObject,
  sleep,
  startRecordingAgent,
  unique,
  waitFor,
  type TestAgent,
} from '../../helpers/agent.js';
import { waitReleaseRunning } from '../../helpers/containers.js';
import { LOCKER_1, LOCKER_2 } from '../../helpers/images.js';
import { hostLockPath, lockHolder } from '../../helpers/locks.js';

/** How long the app fights the agent for its lock, and how often a new release arrives meanwhile. */
const CONTENTION_MS = 25_000;
const RELEASE_EVERY_MS = 2_500;

/**
 * The app: until the deadline in /data/deadline (epoch s), take the lock, hold it 200 ms, release
 * it, pause 50 ms, again. Each hold is logged in microsecond wall time (busybox date has no %N;
 * adjtimex reads the clock): the take time is read AFTER the take succeeded and the release time
 * BEFORE the rm, so a logged interval lies inside the real hold and a stop inside it is a certain
 * violation. (The few ms at either end are covered by checking, at each stop, that the lock file
 * is the agent's marker.) /data survives the app's releases.
 */
const CONTENDER = `
trap 'exit 0' TERM
now() { adjtimex | awk '/tv_sec/ { s = $2 } /tv_usec/ { u = $2 } END { printf "%d%06d", s, u }'; }
while [ "$(date +%s)" -lt "$(cat /data/deadline)" ]; do
  if (set -C; : > /tmp/balena/updates.lock) 2>/dev/null; then
    echo "$(now) take $HOSTNAME" >> /data/log
    usleep 200000
    echo "$(now) release $HOSTNAME" >> /data/log
    rm /tmp/balena/updates.lock
  fi
  usleep 50000
done
while true; do sleep 1 & wait; done
`;

interface Hold {
  from: number;
  to: number;
  host: string;
}

/** Hold intervals (ms) from the app's log; a take with no release (killed while holding) never ends. */
function parseHolds(log: string): Hold[] {
  const holds: Hold[] = [];
  const open = new Map<string, number>();
  for (const line of log.trim().split('\n')) {
    const [micros, what, host] = line.split(' ');
    const ms = Number(micros) / 1000;
    if (what === 'take') open.set(host!, ms);
    if (what === 'release') {
      holds.push({ from: open.get(host!)!, to: ms, host: host! });
      open.delete(host!);
    }
  }
  for (const [host, from] of open) holds.push({ from, to: Infinity, host });
  return holds;
}

describe('locks (real engine): an app racing the agent for its lock', () => {
  let t: TestAgent;
  let engine: RecordingEngine;
  /** What was at the app's lock path the moment each stop began: the agent's marker pid, or 'user'. */
  const atStop: Array<number | 'user' | 'none'> = [];

  beforeAll(async () => {
    ({ t, engine } = await startRecordingAgent());
    // The agent looks the method up at each call, so wrapping it after the start still sees every stop.
    const stop = engine.stopContainer;
    engine.stopContainer = async (id, timeoutSec) => {
      atStop.push(await lockHolder(hostLockPath(t.config, 8501, 'main', 'balena')));
      return stop(id, timeoutSec);
    };
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it('never kills while the app holds its lock, and every release is applied in the end', async () => {
    const appUuid = unique('app');
    const appId = 8501;
    const dataDir = path.dirname(hostLockPath(t.config, appId, 'main', 'data'));
    await fs.mkdir(dataDir, { recursive: true });
    const deadline = Math.ceil((Date.now() + CONTENTION_MS) / 1000);
    await fs.writeFile(path.join(dataDir, 'deadline'), String(deadline));

    const release = (n: number) =>
      deviceObject({
        appUuid,
        appId,
        releaseUuid: `${unique('rel')}n${n}`,
        releaseId: n,
        services: {
          main: { image: n % 2 ? LOCKER_1 : LOCKER_2, composition: { command: ['sh', '-c', CONTENDER] } },
        },
      });
    const releases: Array<Record<string, unknown>> = [];
    let n = 0;
    while (Date.now() < deadline * 1000) {
      n += 1;
      releases.push(release(n));
      await t.setTarget(releases[n - 1]);
      await sleep(RELEASE_EVERY_MS);
    }
    const last = releases[n - 1]!;
    const lastUuid = Object.keys(
      Object.values(last.apps as Record<string, { releases: object }>)[0]!.releases,
    )[0]!;
    await waitReleaseRunning(t, appUuid, lastUuid, ['main'], 15_000);

    const stops = engine.of('stop');
    const holds = parseHolds(await fs.readFile(path.join(dataDir, 'log'), 'utf8'));
    const violations = stops.flatMap((stop) =>
      holds.filter((h) => stop.at >= h.from && stop.at <= h.to).map((hold) => ({ stop, hold })),
    );
    expect(violations).toEqual([]);
    expect(atStop.filter((holder) => holder !== process.pid)).toEqual([]);
    // The test means something only if the app really held the lock often and the agent got in between.
    expect(holds.length).toBeGreaterThan(20);
    const duringContention = stops.filter((s) => s.at < deadline * 1000);
    expect(duringContention.length).toBeGreaterThan(0);
    console.log(
      `race: ${n} releases, ${holds.length} app holds, ${stops.length} stops (${duringContention.length} during contention)`,
    );
    await waitFor(
      'agent lock released',
      async () => (await lockHolder(hostLockPath(t.config, appId, 'main', 'balena'))) === 'none',
      3_000,
      20,
    );
  }, 60_000);
});
