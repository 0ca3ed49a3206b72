/**
 * What the agent reports about an app through its local API (update status, locks). Raw
 * requests with any headers are agent.ts's rawApi.
 */
import { waitFor } from './wait.js';
import { type TestAgent } from './agent.js';

/** The global key's GET; a status other than 200 is an error naming the route. */
async function getOk(t: TestAgent, route: string): Promise<unknown> {
  const reply = await t.api('GET', route);
  if (reply.status !== 200) throw new Error(`GET ${route} answered ${reply.status}: ${reply.text}`);
  return reply.body;
}

export interface AppStateEntry {
  appId: number;
  appUuid: string;
  commit: string | null;
  updateStatus: string;
  [field: string]: unknown;
}

/** The app's entry in GET /v2/applications/state (which is keyed by app name). */
export async function appState(t: TestAgent, appUuid: string): Promise<AppStateEntry | undefined> {
  const apps = (await getOk(t, '/v2/applications/state')) as Record<string, AppStateEntry>;
  return Object.values(apps).find((a) => a.appUuid === appUuid);
}

export async function waitUpdateStatus(
  t: TestAgent,
  appUuid: string,
  status: string,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `app ${appUuid} reporting updateStatus ${status}`,
    async () => (await appState(t, appUuid))?.updateStatus === status,
    timeoutMs,
  );
}

export interface LockListEntry {
  appUuid: string;
  appId: number;
  serviceName: string | null;
  path: string;
  hostPath: string;
  holder: 'app' | 'agent';
  since: string;
}

/** GET /v2/locks, for one app. */
export async function listedLocks(t: TestAgent, appUuid: string): Promise<LockListEntry[]> {
  const body = (await getOk(t, '/v2/locks')) as { locks: LockListEntry[] };
  return body.locks.filter((l) => l.appUuid === appUuid);
}
