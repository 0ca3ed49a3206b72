import { describe, it, expect } from '@jest/globals';
import { serviceConfigHash, stableStringify } from '../../../src/target/config-hash.js';
import type { TargetService } from '../../../src/target/types.js';

function service(overrides: Partial<TargetService> = {}): TargetService {
  return {
    serviceName: 'main',
    serviceId: 23,
    imageId: 1001,
    image: '127.0.0.1:5000/bosun/demo:1',
    environment: { MODE: 'prod', PORT: '80' },
    labels: { 'io.balena.update.strategy': 'download-then-kill' },
    running: true,
    composition: {
      command: ['sleep', '3600'],
      restart: 'always',
      networkMode: 'host',
      volumes: [{ volume: 'data', target: '/data2', readOnly: false }],
      dependsOn: [],
      stopGracePeriodSec: 10,
    },
    strategy: 'download-then-kill',
    handoverTimeoutMs: 60000,
    overrideLock: false,
    supervisorApi: false,
    ...overrides,
  };
}

describe('target/config-hash serviceConfigHash', () => {
  const base = serviceConfigHash(service());

  it('is 16 hex characters', () => {
    expect(base).toMatch(/^[0-9a-f]{16}$/);
  });

  it('is stable across key order of every object', () => {
    const reordered = service({
      environment: { PORT: '80', MODE: 'prod' },
      composition: {
        stopGracePeriodSec: 10,
        dependsOn: [],
        volumes: [{ readOnly: false, target: '/data2', volume: 'data' }],
        networkMode: 'host',
        restart: 'always',
        command: ['sleep', '3600'],
      },
    });
    expect(serviceConfigHash(reordered)).toBe(base);
  });

  it.each<[string, Partial<TargetService>]>([
    ['running', { running: false }],
    ['the lock override flag', { overrideLock: true }],
    ['the service id', { serviceId: 99 }],
  ])('does not change when only %s changes', (_what, overrides) => {
    expect(serviceConfigHash(service(overrides))).toBe(base);
  });

  it.each<[string, Partial<TargetService>]>([
    ['an environment value', { environment: { MODE: 'dev', PORT: '80' } }],
    ['an added environment variable', { environment: { MODE: 'prod', PORT: '80', X: '' } }],
    ['the image', { image: '127.0.0.1:5000/bosun/demo:2' }],
    ['a label', { labels: { 'io.balena.update.strategy': 'hand-over' } }],
    ['the command', { composition: { ...service().composition, command: ['sleep', '1'] } }],
    [
      'a volume mode',
      {
        composition: {
          ...service().composition,
          volumes: [{ volume: 'data', target: '/data2', readOnly: true }],
        },
      },
    ],
  ])('changes when %s changes', (_what, overrides) => {
    expect(serviceConfigHash(service(overrides))).not.toBe(base);
  });

  it('tells an environment value apart from a key boundary', () => {
    const a = service({ environment: { A: 'b,"B":"c' } });
    const b = service({ environment: { A: 'b', B: 'c' } });
    expect(serviceConfigHash(a)).not.toBe(serviceConfigHash(b));
  });
});

describe('target/config-hash stableStringify', () => {
  it.each([
    [{ b: 1, a: [3, { d: 1, c: 2 }] }, '{"a":[3,{"c":2,"d":1}],"b":1}'],
    [{ a: undefined, b: null }, '{"b":null}'],
    [[undefined, 'x'], '[null,"x"]'],
    ['s', '"s"'],
  ])('serialises %j as %s', (value, text) => {
    expect(stableStringify(value)).toBe(text);
  });
});
