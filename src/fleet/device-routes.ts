import type { FastifyInstance } from 'fastify';
import { bearerToken, keyMatchesHash } from './auth.js';
import { isPlainObject } from './compose-values.js';
import { badInput, unauthorized } from './errors.js';
import type { FleetStore } from './store.js';
import { ifNoneMatchHits } from './target-document.js';

/** The device-facing API: registration, target polls (ETag), state reports (contract 3 and 5). */
export function deviceRoutes(app: FastifyInstance, store: FleetStore): void {
  app.post('/device/register', async (request, reply) => {
    const body = request.body;
    if (!isPlainObject(body)) throw badInput('body must be { uuid, fleet, deviceApiKey }');
    for (const field of ['uuid', 'fleet', 'deviceApiKey'] as const) {
      if (typeof body[field] !== 'string' || body[field] === '')
        throw badInput(`${field} must be a non-empty string`);
    }
    if (body.name !== undefined && typeof body.name !== 'string') throw badInput('name must be a string');
    const { created, device } = store.devices.register(
      {
        uuid: body.uuid as string,
        fleet: body.fleet as string,
        deviceApiKey: body.deviceApiKey as string,
        name: body.name as string | undefined,
      },
      bearerToken(request.headers.authorization),
    );
    return reply.code(created ? 201 : 200).send(device);
  });

  // Kept lean on purpose: a 304 costs one indexed read of two short columns and a hash compare.
  app.get<{ Params: { uuid: string } }>('/device/v3/:uuid/state', (request, reply) => {
    const row = store.devices.pollState(request.params.uuid);
    if (!row || !keyMatchesHash(bearerToken(request.headers.authorization), row.key_hash)) {
      throw unauthorized();
    }
    if (ifNoneMatchHits(request.headers['if-none-match'], row.target_etag)) {
      return reply.code(304).header('etag', row.target_etag).send();
    }
    const target = store.devices.target(request.params.uuid);
    if (!target) throw unauthorized();
    return reply.header('etag', target.target_etag).type('application/json').send(target.target_json);
  });

  app.patch('/device/v3/state', async (request, reply) => {
    store.devices.mergeReports(request.body, bearerToken(request.headers.authorization));
    return reply.code(200).send({ status: 'ok' });
  });
}
