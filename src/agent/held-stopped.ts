import type { Engine } from '../engine/types.js';
import type { JsonStore } from '../store/json-store.js';
import { PersistedSet } from '../store/persisted-set.js';
import { readBootId } from '../util/boot-id.js';
import type { Logger } from '../util/logger.js';

/**
 * The containers stopped through the local API, which the apply loop leaves stopped. They stay
 * stopped across agent restarts and crashes, but not across a reboot: the engine starts them
 * again then (restart policy), and balena documents the same for its v1 stop.
 */
export async function loadHeldStopped(
  store: JsonStore,
  engine: Engine,
  deviceUuid: string,
  log: Logger,
): Promise<PersistedSet> {
  const held = await new PersistedSet(store, 'held-stopped', await readBootId()).load();
  // Housekeeping: ids of containers that no longer exist can never match again. The engine may
  // not be up yet when the agent starts; then they stay until the next start, harmlessly.
  try {
    const existing = new Set((await engine.listContainers(deviceUuid)).map((c) => c.id));
    await held.retain((id) => existing.has(id));
  } catch (err) {
    log.warn({ err }, 'engine not reachable at start; stopped-service records kept as they are');
  }
  return held;
}
