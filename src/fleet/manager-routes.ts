import { checkPolicyConfig } from '../policy/update-policy.js';
import { TargetValidationError } from '../target/fields.js';
import type { FastifyInstance } from 'fastify';
import { bearerToken, type ManagerTokenCheck } from './auth.js';
import type { FleetChangeFeed } from './change-feed.js';
import { publishManagerChanges } from './change-sources.js';
import { parseCompose } from './compose.js';
import { eventRoutes } from './event-routes.js';
import { isPlainObject } from './compose-values.js';
import type { RolloutRequest } from './api-types.js';
import { badInput, unauthorized } from './errors.js';
import { managerLogRoutes } from './log-routes.js';
import type { LogWaiters } from './log-waiters.js';
import type { FleetStore } from './store.js';
import { parseTagFilter, tagPatch } from './tags.js';

type NameParams = { Params: { name: string } };
type UuidParams = { Params: { uuid: string } };
type KeyParams<P> = { Params: P & { key: string } };

/**
 * The fleet manager's API under /v1, all behind the manager token; the changes it makes are
 * published to `changes`, whose streams it serves (`GET /v1/events`, for the dashboard).
 */
export function managerRoutes(
  app: FastifyInstance,
  store: FleetStore,
  checkManagerToken: ManagerTokenCheck,
  logWaiters: LogWaiters,
  changes: FleetChangeFeed,
): void {
  app.register(async (scope) => {
    scope.addHook('onRequest', async (request) => {
      if (!(await checkManagerToken(bearerToken(request.headers.authorization)))) {
        throw unauthorized('missing or wrong manager token');
      }
    });
    publishManagerChanges(scope, store, changes);
    eventRoutes(scope, store, changes);

    scope.post('/v1/fleets', async (request, reply) => {
      const body = request.body;
      if (!isPlainObject(body) || typeof body.name !== 'string') throw badInput('body must be { name }');
      return reply.code(201).send(await store.fleets.create(body.name));
    });

    scope.get('/v1/fleets', async () => store.fleets.list());

    scope.get<NameParams>('/v1/fleets/:name', async (request) => store.fleets.summary(request.params.name));

    scope.post<NameParams>('/v1/fleets/:name/releases', async (request, reply) => {
      await store.fleets.require(request.params.name);
      const compose = composeInput(request.body);
      const rollout = isPlainObject(request.body) ? rolloutInput(request.body.rollout) : undefined;
      const spec = parseCompose(compose);
      const source = typeof compose === 'string' ? compose : JSON.stringify(compose);
      return reply
        .code(201)
        .send(await store.fleets.createRelease(request.params.name, spec, source, new Date(), rollout));
    });

    scope.get<NameParams>('/v1/fleets/:name/releases', async (request) =>
      store.fleets.listReleases(request.params.name),
    );

    scope.put<NameParams>('/v1/fleets/:name/target', async (request) => {
      const { release, rollout } = await store.fleets.setTargetRelease(
        request.params.name,
        releaseRefInput(request.body),
      );
      return { fleet: request.params.name, target: release, rollout };
    });

    // Staged rollouts (contract section 12): of an existing release, and the fleet's current one.
    scope.post<NameParams>('/v1/fleets/:name/rollouts', async (request, reply) => {
      const body = request.body;
      const { rollout } = await store.fleets.setTargetRelease(
        request.params.name,
        releaseRefInput(body),
        isPlainObject(body) ? rolloutInput(body.rollout) : undefined,
      );
      return reply.code(201).send(rollout);
    });

    scope.get<NameParams>('/v1/fleets/:name/rollout', async (request) =>
      store.rollouts.status(request.params.name),
    );

    for (const action of ['pause', 'resume', 'abort'] as const) {
      scope.post<NameParams>(`/v1/fleets/:name/rollout/${action}`, async (request) =>
        store.rollouts[action](request.params.name),
      );
    }

    scope.get<NameParams>('/v1/fleets/:name/config', async (request) => ({
      fleet: await store.fleets.config(request.params.name),
    }));

    scope.put<KeyParams<{ name: string }>>('/v1/fleets/:name/config/:key', async (request) => {
      await store.fleets.setConfig(
        request.params.name,
        request.params.key,
        configValue(request.params.key, request.body),
      );
      return { fleet: await store.fleets.config(request.params.name) };
    });

    scope.delete<KeyParams<{ name: string }>>('/v1/fleets/:name/config/:key', async (request) => {
      const removed = await store.fleets.unsetConfig(request.params.name, request.params.key);
      return { removed, fleet: await store.fleets.config(request.params.name) };
    });

    scope.get<{ Querystring: { fleet?: string; tag?: string | string[] } }>('/v1/devices', async (request) =>
      store.devices.list(request.query.fleet || undefined, parseTagFilter(request.query.tag)),
    );

    scope.get<UuidParams>('/v1/devices/:uuid/tags', async (request) => ({
      uuid: request.params.uuid,
      tags: await store.devices.tags(request.params.uuid),
    }));

    // A JSON merge patch of the tags: { key: value } sets, { key: null } removes.
    scope.patch<UuidParams>('/v1/devices/:uuid/tags', async (request) => ({
      uuid: request.params.uuid,
      tags: await store.devices.changeTags(request.params.uuid, tagPatch(request.body)),
    }));

    scope.get<UuidParams>('/v1/devices/:uuid/config', async (request) =>
      store.devices.config(request.params.uuid),
    );

    scope.put<KeyParams<{ uuid: string }>>('/v1/devices/:uuid/config/:key', async (request) => {
      await store.devices.setConfig(
        request.params.uuid,
        request.params.key,
        configValue(request.params.key, request.body),
      );
      return store.devices.config(request.params.uuid);
    });

    scope.delete<KeyParams<{ uuid: string }>>('/v1/devices/:uuid/config/:key', async (request) => {
      const removed = await store.devices.unsetConfig(request.params.uuid, request.params.key);
      return { removed, ...(await store.devices.config(request.params.uuid)) };
    });

    scope.post<UuidParams>('/v1/devices/:uuid/pin', async (request) => ({
      uuid: request.params.uuid,
      pinned: await store.devices.pin(request.params.uuid, releaseRefInput(request.body)),
    }));

    const unpin = async (request: { params: { uuid: string } }) => {
      await store.devices.unpin(request.params.uuid);
      return { uuid: request.params.uuid, pinned: null };
    };
    scope.post<UuidParams>('/v1/devices/:uuid/unpin', unpin);
    scope.delete<UuidParams>('/v1/devices/:uuid/pin', unpin);

    managerLogRoutes(scope, store, logWaiters);
  });
}

/** A release body: YAML text, `{ compose: <yaml text or object> }`, or a compose object itself. */
function composeInput(body: unknown): unknown {
  if (typeof body === 'string') return body;
  if (isPlainObject(body)) {
    if (body.compose !== undefined) return body.compose;
    if (body.services !== undefined) return body;
  }
  throw badInput('body must be compose YAML text, or JSON { compose: <YAML text or compose object> }');
}

/**
 * `{ waves?, waveWait?, maxFailures?, only? }`: strings (a number is taken for a count), `only`
 * an object of tags. The values themselves are checked by rolloutSettings (rollout-store.ts).
 */
function rolloutInput(value: unknown): RolloutRequest | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isPlainObject(value)) throw badInput('rollout must be { waves?, waveWait?, maxFailures?, only? }');
  const text = (field: 'waves' | 'waveWait' | 'maxFailures'): string | undefined => {
    const given = value[field];
    if (given === undefined || given === null) return undefined;
    if (typeof given !== 'string' && typeof given !== 'number')
      throw badInput(`rollout.${field} must be a string`);
    return String(given);
  };
  for (const key of Object.keys(value)) {
    if (!['waves', 'waveWait', 'maxFailures', 'only'].includes(key))
      throw badInput(`rollout.${key} is not an option`);
  }
  return {
    waves: text('waves'),
    waveWait: text('waveWait'),
    maxFailures: text('maxFailures'),
    only:
      value.only === undefined || value.only === null ? undefined : (value.only as Record<string, string>),
  };
}

/** `{ release }`: a commit, a unique commit prefix, or a release id. */
function releaseRefInput(body: unknown): string {
  const release = isPlainObject(body) ? body.release : undefined;
  if (typeof release !== 'string' && typeof release !== 'number') {
    throw badInput('body must be { release: <commit, commit prefix or release id> }');
  }
  return String(release);
}

/**
 * A config value: `{ value }` with a string, number or boolean (stored as text). The update
 * policies (contract section 10) are checked as the devices check them: a value every device
 * would reject (and reject the whole target for) is refused here instead.
 */
function configValue(key: string, body: unknown): string {
  const value = isPlainObject(body) ? body.value : undefined;
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw badInput('body must be { value: <string> }');
  }
  try {
    checkPolicyConfig({ [key]: String(value) }, 'config');
  } catch (err) {
    if (err instanceof TargetValidationError) throw badInput(err.message);
    throw err;
  }
  return String(value);
}
