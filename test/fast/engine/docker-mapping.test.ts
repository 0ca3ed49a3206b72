import { describe, expect, it } from '@jest/globals';
import type Docker from 'dockerode';
import {
  isImageMissingMessage,
  pullStreamError,
  toEngineError,
  toPullError,
} from '../../../src/engine/docker-errors.js';
import { dockerodeOptions, toContainerInfo, toCreateOptions } from '../../../src/engine/docker-mapping.js';
import {
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageNotFoundError,
  NotFoundError,
  PullError,
} from '../../../src/engine/errors.js';
import { LABELS, type ContainerSpec } from '../../../src/engine/types.js';
import { ConfigError } from '../../../src/util/errors.js';

/** An error shaped like the ones docker-modem builds from an HTTP answer. */
function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), {
    statusCode,
    json: { message },
  });
}

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
}

const LABELS_OK: Record<string, string> = {
  [LABELS.supervised]: 'true',
  [LABELS.appId]: '1',
  [LABELS.appUuid]: 'app-uuid',
  [LABELS.serviceName]: 'main',
  [LABELS.serviceId]: '2',
  [LABELS.deviceUuid]: 'dev',
  [LABELS.releaseUuid]: 'rel',
  [LABELS.releaseId]: '3',
  [LABELS.imageId]: '4',
  [LABELS.configHash]: 'h',
};

function inspectInfo(state: Partial<Docker.ContainerInspectInfo['State']>, labels = LABELS_OK) {
  return {
    Id: 'abc',
    Name: '/main_4_3_rel',
    Created: '2030-01-01T00:00:00.000000001Z',
    Config: { Image: 'registry.test/app:1', Labels: labels },
    State: { Status: 'created', StartedAt: '0001-01-01T00:00:00Z', ExitCode: 0, Running: false, ...state },
  } as unknown as Docker.ContainerInspectInfo;
}

describe('engine/docker-mapping dockerodeOptions', () => {
  it('reads unix sockets and tcp/http/https endpoints', () => {
    expect(dockerodeOptions('unix:///run/user/docker.sock')).toMatchObject({
      socketPath: '/run/user/docker.sock',
    });
    expect(dockerodeOptions()).toMatchObject({ socketPath: '/var/run/docker.sock' });
    expect(dockerodeOptions('tcp://127.0.0.1:2375')).toEqual({
      socketPath: undefined,
      host: '127.0.0.1',
      port: 2375,
      protocol: 'http',
    });
    expect(dockerodeOptions('https://docker.local:2376/')).toMatchObject({
      host: 'docker.local',
      protocol: 'https',
    });
  });

  it('sets the host fields even when undefined, so the process DOCKER_HOST cannot override them', () => {
    const options = dockerodeOptions('unix:///var/run/docker.sock');
    expect(Object.keys(options)).toEqual(expect.arrayContaining(['host', 'port', 'protocol']));
    expect(options.host).toBeUndefined();
  });

  it.each(['unix://', 'tcp://127.0.0.1', 'ssh://pi@host', '/var/run/docker.sock', 'tcp://host:port'])(
    'rejects %s with a ConfigError',
    (host) => {
      expect(() => dockerodeOptions(host)).toThrow(ConfigError);
    },
  );
});

describe('engine/docker-mapping toCreateOptions', () => {
  const base: ContainerSpec = {
    name: 'main_4_3_rel',
    image: 'registry.test/app:1',
    labels: { a: 'b' },
    env: { A: '1', B: 'x=y' },
    restart: 'no',
    networkMode: 'host',
    mounts: [{ type: 'bind', source: '/tmp/bosun/1/main', target: '/tmp/balena' }],
  };

  it('maps the minimal spec, leaving optional fields to the image', () => {
    expect(toCreateOptions(base)).toEqual({
      name: 'main_4_3_rel',
      Image: 'registry.test/app:1',
      Labels: { a: 'b' },
      Env: ['A=1', 'B=x=y'],
      Tty: false,
      HostConfig: {
        RestartPolicy: { Name: '', MaximumRetryCount: 0 },
        NetworkMode: 'host',
        Init: false,
        Mounts: [{ Type: 'bind', Source: '/tmp/bosun/1/main', Target: '/tmp/balena', ReadOnly: false }],
      },
    });
  });

  it('converts healthcheck durations from milliseconds to nanoseconds', () => {
    const options = toCreateOptions({ ...base, healthcheck: { test: ['CMD', 'true'], intervalMs: 2000 } });
    expect(options.Healthcheck).toEqual({ Test: ['CMD', 'true'], Interval: 2_000_000_000 });
  });
});

describe('engine/docker-mapping toContainerInfo', () => {
  it('leaves startedAt out for a never-started container and exitCode out unless it exited', () => {
    const mapped = toContainerInfo(inspectInfo({}));
    expect(mapped).toEqual({
      ok: true,
      info: expect.objectContaining({
        id: 'abc',
        name: 'main_4_3_rel',
        status: 'created',
        appId: 1,
        configHash: 'h',
      }),
    });
    if (!mapped.ok) throw new Error('unreachable');
    expect('startedAt' in mapped.info).toBe(false);
    expect('exitCode' in mapped.info).toBe(false);
  });

  it('reports startedAt and the exit code of an exited container', () => {
    const mapped = toContainerInfo(
      inspectInfo({ Status: 'exited', StartedAt: '2030-01-01T00:00:05Z', ExitCode: 143 }),
    );
    expect(mapped).toMatchObject({
      ok: true,
      info: { status: 'exited', startedAt: '2030-01-01T00:00:05Z', exitCode: 143 },
    });
  });

  it('is not ok for a container without bosun labels or with a non-numeric id', () => {
    expect(toContainerInfo(inspectInfo({}, { [LABELS.deviceUuid]: 'dev' }))).toEqual({
      ok: false,
      reason: `label ${LABELS.appId} is missing`,
    });
    expect(toContainerInfo(inspectInfo({}, { ...LABELS_OK, [LABELS.releaseId]: '3a' }))).toMatchObject({
      ok: false,
    });
  });
});

describe('engine/docker-errors', () => {
  it('maps socket failures to EngineUnavailableError and HTTP answers by status', () => {
    expect(toEngineError(socketError('ECONNREFUSED'), 'ping')).toBeInstanceOf(EngineUnavailableError);
    expect(toEngineError(socketError('ENOENT'), 'ping')).toBeInstanceOf(EngineUnavailableError);
    expect(toEngineError(httpError(404, 'No such container: x'), 'container x')).toBeInstanceOf(
      NotFoundError,
    );
    const conflict = toEngineError(httpError(409, 'conflict'), 'container x');
    expect(conflict).toBeInstanceOf(EngineError);
    expect(conflict).toMatchObject({ statusCode: 409, message: 'container x: HTTP 409: conflict' });
    const aborted = Object.assign(new Error('The operation was aborted'), {
      name: 'AbortError',
      code: 'ABORT_ERR',
    });
    expect(toEngineError(aborted, 'pull')).toBeInstanceOf(AbortedError);
  });

  it('classifies pull failures by status code, never by the text of an answered request', () => {
    expect(toPullError('r:1', httpError(404, 'manifest unknown'))).toBeInstanceOf(ImageNotFoundError);
    // A 500 whose text happens to say "not found" is still a registry/network failure.
    const serverError = toPullError('r:1', httpError(500, 'dial tcp: lookup registry: not found'));
    expect(serverError).toBeInstanceOf(PullError);
    expect(serverError.transient).toBe(true);
    expect(toPullError('r:1', socketError('ECONNREFUSED'))).toBeInstanceOf(EngineUnavailableError);
    expect(toPullError('r:1', new Error('socket hang up'))).toBeInstanceOf(PullError);
  });

  it('reads the message only for errors sent inside the pull stream', () => {
    expect(isImageMissingMessage('manifest for r:1 not found: manifest unknown: manifest unknown')).toBe(
      true,
    );
    expect(isImageMissingMessage('pull access denied for r, repository does not exist')).toBe(true);
    expect(isImageMissingMessage('unexpected EOF')).toBe(false);
    expect(pullStreamError('r:1', 'manifest unknown')).toBeInstanceOf(ImageNotFoundError);
    expect(pullStreamError('r:1', 'write /var/lib/docker: no space left on device')).toBeInstanceOf(
      PullError,
    );
  });
});
