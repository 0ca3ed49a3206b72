import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actionOptions, appIdParam, type RouteContext } from './context.js';
import type { DeviceFacade } from './device-facade.js';
import { BadRequestError, UnknownTargetError } from './errors.js';
import { readFlag, readServiceSelector, type ServiceSelector } from './input.js';
import { forceBody, serviceActionBody, targetBody } from './schemas.js';
import { applicationsState, lockList, stateStatus } from './views.js';

type Body = Record<string, unknown>;
type WithApp = { Body: Body; Params: { appId: string } };

/** A local target may be a whole device's worth of apps and env: larger than action bodies. */
const LOCAL_TARGET_BODY_LIMIT = 1024 * 1024;

const SUCCESS_OK = { status: 'success', message: 'OK' } as const;

/** balena accepts an image id in place of a service name; find the name it stands for. */
async function resolveServiceName(
  facade: DeviceFacade,
  appId: number,
  selector: ServiceSelector,
): Promise<string> {
  if ('serviceName' in selector) return selector.serviceName;
  const device = await facade.view();
  const app = device.apps.find((candidate) => candidate.appId === appId);
  if (!app) throw new UnknownTargetError(`no app with id ${appId}`);
  const service = app.services.find((candidate) => candidate.imageId === selector.imageId);
  if (!service) throw new UnknownTargetError(`app ${appId} has no service with image id ${selector.imageId}`);
  return service.serviceName;
}

/** balena's v2 endpoints (contract section 8). */
export function registerV2Routes(app: FastifyInstance, ctx: RouteContext): void {
  const { facade, auth } = ctx;
  const optionsOf = (body: Body) => actionOptions(ctx, body);
  const paramAppId = (request: FastifyRequest<WithApp>): number => appIdParam(ctx, request);
  const serviceName = (request: FastifyRequest<WithApp>, appId: number) =>
    resolveServiceName(facade, appId, readServiceSelector(request.body));
  const plainOk = { type: 'text/plain; charset=utf-8', body: 'OK' } as const;

  const serviceRoute = { schema: { body: serviceActionBody } };
  app.post<WithApp>('/v2/applications/:appId/restart-service', serviceRoute, async (request, reply) => {
    const appId = paramAppId(request);
    const options = optionsOf(request.body);
    await facade.restartService(appId, await serviceName(request, appId), options);
    return reply.type(plainOk.type).send(plainOk.body);
  });

  app.post<WithApp>('/v2/applications/:appId/stop-service', serviceRoute, async (request, reply) => {
    const appId = paramAppId(request);
    const options = optionsOf(request.body);
    await facade.stopService(appId, await serviceName(request, appId), options);
    return reply.type(plainOk.type).send(plainOk.body);
  });

  app.post<WithApp>('/v2/applications/:appId/start-service', serviceRoute, async (request, reply) => {
    const appId = paramAppId(request);
    readFlag(request.body, 'force'); // accepted for symmetry; starting needs no lock
    await facade.startService(appId, await serviceName(request, appId));
    return reply.type(plainOk.type).send(plainOk.body);
  });

  // balena's v2 whole-app actions, kept so its clients run unchanged.
  app.post<WithApp>(
    '/v2/applications/:appId/restart',
    { schema: { body: forceBody } },
    async (request, reply) => {
      const appId = paramAppId(request);
      await facade.restartApp(appId, optionsOf(request.body));
      return reply.type(plainOk.type).send(plainOk.body);
    },
  );

  app.post<WithApp>(
    '/v2/applications/:appId/purge',
    { schema: { body: forceBody } },
    async (request, reply) => {
      const appId = paramAppId(request);
      await facade.purgeApp(appId, optionsOf(request.body));
      return reply.type(plainOk.type).send(plainOk.body);
    },
  );

  // Listings: an app-scoped key sees its own app only.
  app.get('/v2/applications/state', async (request, reply) => {
    const device = await facade.view();
    return reply.send(applicationsState(device.apps.filter((a) => auth.canSee(request, a.appId))));
  });

  app.get('/v2/state/status', async (request, reply) => {
    const device = await facade.view();
    return reply.send(
      stateStatus(
        device,
        device.apps.filter((a) => auth.canSee(request, a.appId)),
      ),
    );
  });

  app.get('/v2/locks', async (request, reply) => {
    const locks = await facade.locks();
    return reply.send({
      status: 'success',
      locks: lockList(locks.filter((l) => auth.canSee(request, l.appId))),
    });
  });

  // The local target holds every app's environment and replaces every app: global key only.
  app.get('/v2/local/target-state', async (request, reply) => {
    auth.requireGlobal(request);
    return reply.send({ status: 'success', state: { local: await facade.localTarget() } });
  });

  app.post<{ Body: unknown }>(
    '/v2/local/target-state',
    { schema: { body: targetBody }, bodyLimit: LOCAL_TARGET_BODY_LIMIT },
    async (request, reply) => {
      auth.requireGlobal(request);
      if (!ctx.localMode) {
        throw new BadRequestError(
          'the target state can only be set locally in local mode (no cloud endpoint)',
        );
      }
      await facade.setLocalTarget(request.body);
      return reply.send(SUCCESS_OK);
    },
  );

  app.get('/v2/version', async (_request, reply) => reply.send({ status: 'success', version: ctx.version }));

  app.get('/v2/device/name', async (_request, reply) => {
    const device = await facade.view();
    return reply.send({ status: 'success', deviceName: device.name ?? '' });
  });
}
