import type { FastifyRequest } from 'fastify';
import type { DeviceFacade, KeyScope } from './device-facade.js';
import { UnauthorizedError } from './errors.js';

export type { KeyScope } from './device-facade.js';

/** Routes anyone on the device may call, as balena-supervisor leaves them open. */
const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['/ping', '/v1/healthy']);

const AUTH_HEADER = /^\s*(?:bearer|apikey)\s+(\S+)\s*$/i;

/**
 * The key a request carries, from `Authorization: Bearer <key>`, `Authorization: ApiKey <key>`
 * or `?apikey=<key>` (balena's three forms). A header in another scheme is ignored, so a proxy's
 * Basic auth does not hide a query key. A repeated `apikey` parameter is ambiguous: no key.
 */
export function extractApiKey(headers: FastifyRequest['headers'], query: unknown): string | undefined {
  const header = headers.authorization;
  if (typeof header === 'string') {
    const match = AUTH_HEADER.exec(header);
    if (match) return match[1];
  }
  if (query !== null && typeof query === 'object') {
    const fromQuery = (query as Record<string, unknown>).apikey;
    if (typeof fromQuery === 'string' && fromQuery !== '') return fromQuery;
  }
  return undefined;
}

export interface ApiAuth {
  /** onRequest hook: 401 unless the route is public or the request has a valid key. */
  authenticate(request: FastifyRequest): Promise<void>;
  /** The scope of an authenticated request. */
  scopeOf(request: FastifyRequest): KeyScope;
  /** 401 unless the key is global or scoped to `appId`. */
  requireApp(request: FastifyRequest, appId: number): void;
  /** 401 unless the key is global (device-wide changes an app must not make on its own). */
  requireGlobal(request: FastifyRequest): void;
  /** Whether the request may see `appId`'s state (filters listings for app-scoped keys). */
  canSee(request: FastifyRequest, appId: number): boolean;
  /**
   * The app an app-scoped request speaks for; undefined for the global key and for requests not
   * (yet) authenticated. Never throws: the error handler uses it to word failures.
   */
  scopedAppOf(request: FastifyRequest): number | undefined;
}

/**
 * Authentication for one server. The scope of each request is kept in a WeakMap owned by this
 * instance (no module state, nothing added to fastify's global types). Keys are resolved by
 * `facade.keyScope`, which compares in constant time; this module compares no secrets itself
 * and never logs a key.
 */
export function createApiAuth(facade: DeviceFacade): ApiAuth {
  const scopes = new WeakMap<FastifyRequest, KeyScope>();

  function scopeOf(request: FastifyRequest): KeyScope {
    const scope = scopes.get(request);
    // Only reachable if a route forgot to go through authenticate(): fail closed.
    if (!scope) throw new UnauthorizedError('missing or invalid API key');
    return scope;
  }

  function canSee(request: FastifyRequest, appId: number): boolean {
    const scope = scopeOf(request);
    return scope.scope === 'global' || scope.appId === appId;
  }

  return {
    async authenticate(request) {
      const route = request.routeOptions.url;
      if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
      const key = extractApiKey(request.headers, request.query);
      const scope = key === undefined ? undefined : facade.keyScope(key);
      if (!scope) throw new UnauthorizedError('missing or invalid API key');
      scopes.set(request, scope);
    },
    scopeOf,
    canSee,
    scopedAppOf(request) {
      const scope = scopes.get(request);
      return scope?.scope === 'app' ? scope.appId : undefined;
    },
    requireApp(request, appId) {
      if (!canSee(request, appId)) {
        throw new UnauthorizedError(`this API key is not allowed to act on app ${appId}`);
      }
    },
    requireGlobal(request) {
      if (scopeOf(request).scope !== 'global') {
        throw new UnauthorizedError('this endpoint needs the device-wide API key');
      }
    },
  };
}
