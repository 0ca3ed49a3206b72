import got, { RequestError, type Method } from 'got';
import { BosunError } from '../util/errors.js';
import type {
  ConfigView,
  CreatedFleet,
  DeviceLogPage,
  DeviceView,
  ErrorBody,
  FleetSummary,
  PushedRelease,
  ReleaseRef,
  ReleaseSummary,
  RolloutRequest,
  RolloutView,
} from './api-types.js';

export const DEFAULT_FLEET_URL = 'http://127.0.0.1:48480';

export interface FleetClientOptions {
  url: string;
  /** The manager token. */
  token?: string;
  timeoutMs?: number;
}

/** The backend answered with an error status; `code` is the backend's stable error code. */
export class FleetApiError extends BosunError {
  override name = 'FleetApiError';
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.error, body.message, { transient: status >= 500 });
  }
}

/** No answer from the backend at all: refused, timed out, DNS. */
export class FleetUnreachableError extends BosunError {
  override name = 'FleetUnreachableError';
  constructor(url: string, cause: RequestError) {
    super('EFLEET_UNREACHABLE', `cannot reach the fleet backend at ${url}: ${cause.code ?? cause.message}`, {
      cause,
      transient: true,
    });
  }
}

/** A typed client of the manager API (`/v1`), as the fleet CLI uses it. */
export class FleetClient {
  private readonly base: string;

  constructor(private readonly options: FleetClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
  }

  createFleet(name: string): Promise<CreatedFleet> {
    return this.request('POST', '/v1/fleets', { json: { name } });
  }

  listFleets(): Promise<FleetSummary[]> {
    return this.request('GET', '/v1/fleets');
  }

  /**
   * Pushes a compose file (YAML text) and rolls the new release out: to every unpinned device at
   * once, as the fleet's target, or as `rollout` asks (waves, tags). The answer carries the
   * warnings devices would give about it, and the rollout.
   */
  pushRelease(fleet: string, composeYaml: string, rollout?: RolloutRequest): Promise<PushedRelease> {
    const route = `/v1/fleets/${enc(fleet)}/releases`;
    if (rollout) return this.request('POST', route, { json: { compose: composeYaml, rollout } });
    return this.request('POST', route, { body: composeYaml, contentType: 'application/yaml' });
  }

  /** Rolls an existing release out as `rollout` asks (id, commit or prefix). */
  startRollout(fleet: string, release: string, rollout: RolloutRequest): Promise<RolloutView> {
    return this.request('POST', `/v1/fleets/${enc(fleet)}/rollouts`, { json: { release, rollout } });
  }

  /** The fleet's current rollout: its waves and state. */
  rolloutStatus(fleet: string): Promise<RolloutView> {
    return this.request('GET', `/v1/fleets/${enc(fleet)}/rollout`);
  }

  rolloutCommand(fleet: string, command: 'pause' | 'resume' | 'abort'): Promise<RolloutView> {
    return this.request('POST', `/v1/fleets/${enc(fleet)}/rollout/${command}`);
  }

  listReleases(fleet: string): Promise<ReleaseSummary[]> {
    return this.request('GET', `/v1/fleets/${enc(fleet)}/releases`);
  }

  /** Makes an existing release the fleet's target again (roll back): id, commit or prefix. */
  setFleetTarget(
    fleet: string,
    release: string,
  ): Promise<{ fleet: string; target: ReleaseRef; rollout: RolloutView }> {
    return this.request('PUT', `/v1/fleets/${enc(fleet)}/target`, { json: { release } });
  }

  /** Pins a device to a release: numeric id, full commit, or a unique commit prefix. */
  pin(device: string, release: string): Promise<{ uuid: string; pinned: ReleaseRef }> {
    return this.request('POST', `/v1/devices/${enc(device)}/pin`, { json: { release } });
  }

  unpin(device: string): Promise<{ uuid: string; pinned: null }> {
    return this.request('POST', `/v1/devices/${enc(device)}/unpin`);
  }

  fleetConfig(fleet: string): Promise<ConfigView> {
    return this.request('GET', `/v1/fleets/${enc(fleet)}/config`);
  }

  setFleetConfig(fleet: string, key: string, value: string): Promise<ConfigView> {
    return this.request('PUT', `/v1/fleets/${enc(fleet)}/config/${enc(key)}`, { json: { value } });
  }

  unsetFleetConfig(fleet: string, key: string): Promise<ConfigView & { removed: boolean }> {
    return this.request('DELETE', `/v1/fleets/${enc(fleet)}/config/${enc(key)}`);
  }

  deviceConfig(device: string): Promise<ConfigView> {
    return this.request('GET', `/v1/devices/${enc(device)}/config`);
  }

  setDeviceConfig(device: string, key: string, value: string): Promise<ConfigView> {
    return this.request('PUT', `/v1/devices/${enc(device)}/config/${enc(key)}`, { json: { value } });
  }

  unsetDeviceConfig(device: string, key: string): Promise<ConfigView & { removed: boolean }> {
    return this.request('DELETE', `/v1/devices/${enc(device)}/config/${enc(key)}`);
  }

  /** Devices (of one fleet; with every one of `tags`, each `key=value`). */
  listDevices(fleet?: string, tags: string[] = []): Promise<DeviceView[]> {
    const params = new URLSearchParams();
    if (fleet !== undefined) params.append('fleet', fleet);
    for (const tag of tags) params.append('tag', tag);
    const query = params.size === 0 ? '' : `?${params.toString()}`;
    return this.request('GET', `/v1/devices${query}`);
  }

  /** Sets tags (`{ key: value }`) and removes them (`{ key: null }`); answers the device's tags. */
  changeTags(
    device: string,
    patch: Record<string, string | null>,
  ): Promise<{ uuid: string; tags: Record<string, string> }> {
    return this.request('PATCH', `/v1/devices/${enc(device)}/tags`, { json: patch });
  }

  /**
   * A device's log (uuid or unique prefix): the newest `tail` lines, or with `after` the lines
   * stored after that id, waiting up to `waitMs` for some.
   */
  deviceLogs(
    device: string,
    options: { tail?: number; service?: string; after?: number; waitMs?: number } = {},
  ): Promise<DeviceLogPage> {
    const query = new URLSearchParams();
    if (options.tail !== undefined) query.set('tail', String(options.tail));
    if (options.service !== undefined) query.set('service', options.service);
    if (options.after !== undefined) query.set('after', String(options.after));
    if (options.waitMs !== undefined) query.set('wait', String(options.waitMs));
    const search = query.size > 0 ? `?${query}` : '';
    return this.request('GET', `/v1/devices/${enc(device)}/logs${search}`, {
      timeoutMs: (options.waitMs ?? 0) + (this.options.timeoutMs ?? 10_000),
    });
  }

  private async request<T>(
    method: Method,
    route: string,
    payload: { json?: unknown; body?: string; contentType?: string; timeoutMs?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (payload.contentType) headers['content-type'] = payload.contentType;
    let response;
    try {
      response = await got(`${this.base}${route}`, {
        method,
        headers,
        json: payload.json,
        body: payload.body,
        throwHttpErrors: false,
        retry: { limit: 0 },
        timeout: { request: payload.timeoutMs ?? this.options.timeoutMs ?? 10_000 },
      });
    } catch (err) {
      if (err instanceof RequestError) throw new FleetUnreachableError(this.base, err);
      throw err;
    }
    const body = parseJson(response.body);
    if (response.statusCode >= 400)
      throw new FleetApiError(response.statusCode, errorBody(response.statusCode, body));
    return body as T;
  }
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BosunError('EFLEET_BAD_ANSWER', `the fleet backend answered with something that is not JSON`, {
      cause: err,
    });
  }
}

function errorBody(status: number, body: unknown): ErrorBody {
  const candidate = body as Partial<ErrorBody> | undefined;
  if (candidate && typeof candidate.error === 'string' && typeof candidate.message === 'string') {
    return { error: candidate.error, message: candidate.message, issues: candidate.issues };
  }
  return { error: `EHTTP_${status}`, message: `the fleet backend answered ${status}` };
}
