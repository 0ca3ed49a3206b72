import type { FastifyInstance } from 'fastify';
import { bearerToken, keyMatchesHash } from './auth.js';
import type { FleetChangeFeed } from './change-feed.js';
import { isPlainObject } from './compose-values.js';
import { badInput, unauthorized } from './errors.js';
import { MAX_REPORT_BODY_BYTES } from './report-limits.js';
import type { FleetStore } from './store.js';
import { ifNoneMatchHits } from './target-document.js';

/**
 * A registration body is `{ uuid, fleet, deviceApiKey, name? }`, a few hundred bytes; the route
 * is open to anyone, so it parses no more than this before the provisioning key is checked.
 */
export const MAX_REGISTER_BODY_BYTES = 16 * 1024;

/**
 * The device-facing API: registration, target polls (ETag), state reports (contract 3 and 5).
 * What changes a fleet is published to `changes` (the dashboard's live updates).
 */
export function deviceRoutes(app: FastifyInstance, store: FleetStore, changes: FleetChangeFeed): void {
  app.post('/device/register', { bodyLimit: MAX_REGISTER_BODY_BYTES }, async (request, reply) => {
    const body = request.body;
    if (!isPlainObject(body)) throw badInput('body must be { uuid, fleet, deviceApiKey }');
    for (const field of ['uuid', 'fleet', 'deviceApiKey'] as const) {
      if (typeof body[field] !== 'string' || body[field] === '')
        throw badInput(`${field} must be a non-empty string`);
    }
    if (body.name !== undefined && typeof body.name !== 'string') throw badInput('name must be a string');
    const { created, device } = await store.devices.register(
      {
        uuid: body.uuid as string,
        fleet: body.fleet as string,
        deviceApiKey: body.deviceApiKey as string,
        name: body.name as string | undefined,
      },
      bearerToken(request.headers.authorization),
    );
    if (created && changes.size > 0) {
      const fleet = await store.fleets.find(device.fleet);
      if (fleet) changes.publish([fleet.id]);
    }
    return reply.code(created ? 201 : 200).send(device);
  });

  // Kept lean on purpose: a 304 costs one indexed read of two short columns and a hash compare.
  // On PostgreSQL the read is one round trip; every backend on the database reads the same ETag.
  app.get<{ Params: { uuid: string } }>('/device/v3/:uuid/state', async (request, reply) => {
    let row = await store.devices.pollState(request.params.uuid);
    if (!row || !keyMatchesHash(bearerToken(request.headers.authorization), row.key_hash)) {
      throw unauthorized();
    }
    // A wave's wait has run out with no report to say so: the first poll after moves the
    // rollout on (opening a wave may give this very device a new target).
    if (row.rollout_check_at !== null && Date.parse(row.rollout_check_at) <= Date.now()) {
      await store.rollouts.advanceFleet(row.fleet_id);
      changes.publish([row.fleet_id]);
      row = (await store.devices.pollState(request.params.uuid)) ?? row;
    }
    if (ifNoneMatchHits(request.headers['if-none-match'], row.target_etag)) {
      return reply.code(304).header('etag', row.target_etag).send();
    }
    const target = await store.devices.target(request.params.uuid);
    if (!target) throw unauthorized();
    return reply.header('etag', target.target_etag).type('application/json').send(target.target_json);
  });

  app.patch('/device/v3/state', { bodyLimit: MAX_REPORT_BODY_BYTES }, async (request, reply) => {
    changes.publish(
      await store.devices.mergeReports(request.body, bearerToken(request.headers.authorization)),
    );
    return reply.code(200).send({ status: 'ok' });
  });
}
