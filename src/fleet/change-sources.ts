import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FleetChangeFeed } from './change-feed.js';
import { isPlainObject } from './compose-values.js';
import type { FleetStore } from './store.js';

/**
 * Publishes the fleet a manager request changed, once it has been answered: every /v1 route
 * that changes something names its fleet (`:name`), its device (`:uuid`), or creates the fleet
 * of its body's `name`. Nothing is looked up while no stream listens.
 */
export function publishManagerChanges(
  scope: FastifyInstance,
  store: FleetStore,
  feed: FleetChangeFeed,
): void {
  scope.addHook('onResponse', async (request, reply) => {
    if (feed.size === 0 || request.method === 'GET' || request.method === 'HEAD') return;
    if (reply.statusCode >= 400) return;
    const fleetId = await changedFleet(request, store);
    if (fleetId !== undefined) feed.publish([fleetId]);
  });
}

async function changedFleet(request: FastifyRequest, store: FleetStore): Promise<number | undefined> {
  const params = isPlainObject(request.params) ? request.params : {};
  const body = isPlainObject(request.body) ? request.body : {};
  const fleetName =
    typeof params.name === 'string' ? params.name : request.url === '/v1/fleets' ? body.name : undefined;
  if (typeof fleetName === 'string') return (await store.fleets.find(fleetName))?.id;
  if (typeof params.uuid === 'string') return store.devices.fleetIdOf(params.uuid);
  return undefined;
}
