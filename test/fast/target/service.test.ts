import { describe, it, expect } from '@jest/globals';
import { normaliseImage, parseTargetDocument } from '../../../src/target/validate.js';
import { APP, DEVICE, doc } from '../../fixtures/targets/contract-doc.js';

describe('target/validate service normalisation', () => {
  it.each([
    ['127.0.0.1:5000/sensor', '127.0.0.1:5000/sensor:latest'],
    ['busybox', 'busybox:latest'],
    ['  bosun/demo:2 ', 'bosun/demo:2'],
    ['localhost/demo', 'localhost/demo:latest'],
    [`demo@sha256:${'a'.repeat(64)}`, `demo@sha256:${'a'.repeat(64)}`],
    [
      `reg.example.com:443/a/b:v1@sha256:${'b'.repeat(64)}`,
      `reg.example.com:443/a/b:v1@sha256:${'b'.repeat(64)}`,
    ],
  ])('normalises image %j to %j', (image, expected) => {
    expect(normaliseImage(image, 'x.image')).toBe(expected);
  });

  it.each(['demo :1', 'Demo:1', 'demo:', 'demo@sha256:xyz', 'a//b', 'demo:bad/tag'])(
    'rejects image reference %j',
    (image) => {
      expect(() => normaliseImage(image, 'x.image')).toThrow(/^x\.image: invalid image reference/);
    },
  );

  it.each([
    [
      { 'io.balena.update.strategy': 'hand-over', 'io.balena.update.handover-timeout': '5000' },
      'hand-over',
      5000,
      0,
    ],
    [{ 'io.resin.update.strategy': 'kill-then-download' }, 'kill-then-download', 60000, 0],
    [{ 'io.balena.update.strategy': 'delete-then-download' }, 'delete-then-download', 60000, 0],
    [{ 'io.balena.update.handover-timeout': 'soon' }, 'download-then-kill', 60000, 1],
    [{ 'io.balena.update.handover-timeout': '-5' }, 'download-then-kill', 60000, 1],
  ])('reads strategy labels %j', (labels, strategy, timeout, warningCount) => {
    const { target, warnings } = parseTargetDocument(
      doc(({ main }) => (main.labels = labels)),
      DEVICE,
    );
    const main = target.apps[APP].release!.services.main;
    expect(main.strategy).toBe(strategy);
    expect(main.handoverTimeoutMs).toBe(timeout);
    expect(warnings).toHaveLength(warningCount);
  });

  it.each([
    [{ RESIN_OVERRIDE_LOCK: '1' }, true],
    [{ BALENA_OVERRIDE_LOCK: 'true' }, true],
    [{ BALENA_OVERRIDE_LOCK: 'ON' }, true],
    [{ RESIN_OVERRIDE_LOCK: '0', BALENA_OVERRIDE_LOCK: '1' }, true],
    [{ RESIN_OVERRIDE_LOCK: '0' }, false],
    [{ OVERRIDE_LOCK: '1' }, false],
    [{}, false],
  ])('detects the lock override in environment %j', (environment, expected) => {
    const body = doc(({ main }) => (main.environment = environment));
    expect(parseTargetDocument(body, DEVICE).target.apps[APP].release!.services.main.overrideLock).toBe(
      expected,
    );
  });

  it.each([
    [{ 'io.balena.features.supervisor-api': '1' }, true],
    [{ 'io.balena.features.supervisor-api': 'true' }, true],
    [{ 'io.resin.features.supervisor-api': '1' }, true],
    [{ 'io.balena.features.supervisor-api': '0' }, false],
    [{}, false],
  ])('reads the supervisor-api feature label %j', (labels, expected) => {
    const body = doc(({ main }) => (main.labels = labels));
    expect(parseTargetDocument(body, DEVICE).target.apps[APP].release!.services.main.supervisorApi).toBe(
      expected,
    );
  });

  it('normalises every supported composition key', () => {
    const body = doc(({ release, main }) => {
      release.volumes = { data: {}, cache: null };
      release.services.db = { id: 24, image_id: 1002, image: 'db:1' };
      main.composition = {
        command: `sh -c 'echo "a b"; sleep 1'`,
        entrypoint: ['/bin/tini', '--'],
        working_dir: '/app',
        user: 1000,
        restart: 'on-failure',
        network_mode: 'none',
        volumes: [
          'data:/data2',
          { type: 'volume', source: 'cache', target: '/cache', read_only: true },
          'data:/ro:ro',
        ],
        depends_on: { db: { condition: 'service_started' } },
        stop_signal: 'SIGINT',
        stop_grace_period: '1m30s',
        init: true,
        tty: false,
        healthcheck: { test: 'true', interval: '30s', timeout: 5, start_period: '500ms', retries: 3 },
      };
    });
    const { target, warnings } = parseTargetDocument(body, DEVICE);
    expect(warnings).toEqual([]);
    expect(target.apps[APP].release!.volumes).toEqual({ data: {}, cache: {} });
    expect(target.apps[APP].release!.services.main.composition).toEqual({
      command: ['sh', '-c', 'echo "a b"; sleep 1'],
      entrypoint: ['/bin/tini', '--'],
      workingDir: '/app',
      user: '1000',
      restart: 'on-failure',
      networkMode: 'none',
      volumes: [
        { volume: 'data', target: '/data2', readOnly: false },
        { volume: 'cache', target: '/cache', readOnly: true },
        { volume: 'data', target: '/ro', readOnly: true },
      ],
      dependsOn: ['db'],
      stopSignal: 'SIGINT',
      stopGracePeriodSec: 90,
      init: true,
      tty: false,
      healthcheck: {
        test: ['CMD-SHELL', 'true'],
        intervalMs: 30000,
        timeoutMs: 5000,
        startPeriodMs: 500,
        retries: 3,
      },
    });
  });
});
