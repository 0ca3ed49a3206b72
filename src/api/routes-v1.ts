import type { FastifyInstance, FastifyRequest } from 'fastify';
import { actionOptions, appIdParam, type RouteContext } from './context.js';
import type { ActionOptions } from './device-facade.js';
import { ForbiddenError, UnknownTargetError } from './errors.js';
import { readBodyId, readFlag } from './input.js';
import { appActionBody, forceBody, updateBody } from './schemas.js';
import { v1Device } from './views.js';

type Body = Record<string, unknown>;
type WithBody = { Body: Body };
type WithApp = { Body: Body; Params: { appId: string } };

const V1_OK = { Data: 'OK', Error: null } as const;

/** The port the server really listens on (null under inject(), which has no socket). */
function listeningPort(app: FastifyInstance): number | null {
  const address = app.server.address();
  return address !== null && typeof address === 'object' ? address.port : null;
}

/** balena's v1 endpoints (contract section 8). */
export function registerV1Routes(app: FastifyInstance, ctx: RouteContext): void {
  const { facade, auth } = ctx;
  const optionsOf = (body: Body) => actionOptions(ctx, body);
  const paramAppId = (request: FastifyRequest<WithApp>): number => appIdParam(ctx, request);
  /** Reboot and shutdown interrupt every app: only the device-wide key may force past their locks. */
  const hostActionOptions = (request: FastifyRequest<WithBody>, what: string): ActionOptions => {
    const options = optionsOf(request.body);
    if (options.force && auth.scopeOf(request).scope !== 'global') {
      throw new ForbiddenError(
        `force on ${what} needs the device-wide API key: an app's key may not override other apps' update locks`,
      );
    }
    return options;
  };

  app.post<WithBody>('/v1/update', { schema: { body: updateBody } }, async (request, reply) => {
    const force = readFlag(request.body, 'force');
    const cancel = readFlag(request.body, 'cancel');
    // The caller's scope goes along: an app's key forces past its own app's locks only.
    const triggered = await facade.triggerUpdate({ force, cancel, caller: auth.scopeOf(request) });
    return reply.code(triggered ? 204 : 202).send();
  });

  app.post<WithBody>('/v1/restart', { schema: { body: appActionBody } }, async (request, reply) => {
    const appId = readBodyId(request.body, 'appId');
    auth.requireApp(request, appId);
    await facade.restartApp(appId, optionsOf(request.body));
    return reply.type('text/plain; charset=utf-8').send('OK');
  });

  app.post<WithBody>('/v1/purge', { schema: { body: appActionBody } }, async (request, reply) => {
    const appId = readBodyId(request.body, 'appId');
    auth.requireApp(request, appId);
    await facade.purgeApp(appId, optionsOf(request.body));
    return reply.send(V1_OK);
  });

  app.post<WithBody>('/v1/reboot', { schema: { body: forceBody } }, async (request, reply) => {
    await facade.reboot(hostActionOptions(request, 'reboot'));
    return reply.code(202).send(V1_OK);
  });

  app.post<WithBody>('/v1/shutdown', { schema: { body: forceBody } }, async (request, reply) => {
    await facade.shutdown(hostActionOptions(request, 'shutdown'));
    return reply.code(202).send(V1_OK);
  });

  // v1 addressed single-container apps; for an app with several services every one is stopped
  // (started) and the first container id is answered, as balena's single `containerId` allows.
  app.post<WithApp>('/v1/apps/:appId/stop', { schema: { body: forceBody } }, async (request, reply) => {
    const appId = paramAppId(request);
    const ids = await facade.stopService(appId, undefined, optionsOf(request.body));
    return reply.send({ containerId: ids[0] ?? null });
  });

  app.post<WithApp>('/v1/apps/:appId/start', { schema: { body: forceBody } }, async (request, reply) => {
    const appId = paramAppId(request);
    readFlag(request.body, 'force'); // accepted for symmetry with stop; starting needs no lock
    const ids = await facade.startService(appId, undefined);
    return reply.send({ containerId: ids[0] ?? null });
  });

  app.get<WithApp>('/v1/apps/:appId', async (request, reply) => {
    const appId = paramAppId(request);
    const device = await facade.view();
    const found = device.apps.find((candidate) => candidate.appId === appId);
    if (!found) throw new UnknownTargetError(`no app with id ${appId}`);
    const first = found.services[0];
    return reply.send({
      appId,
      commit: found.commit ?? null,
      serviceName: first?.serviceName ?? null,
      imageId: first?.imageId ?? null,
      releaseId: first?.releaseId ?? null,
      containerId: first?.containerId ?? null,
    });
  });

  app.get('/v1/device', async (_request, reply) => {
    const device = await facade.view();
    return reply.send(v1Device(device, listeningPort(app), ctx.hostInfo()));
  });
}
