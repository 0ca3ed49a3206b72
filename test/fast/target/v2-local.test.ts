import { readFileSync } from 'node:fs';
import { describe, it, expect } from '@jest/globals';
import { TargetValidationError } from '../../../src/target/validate.js';
import { convertV2LocalTarget, isV2LocalShape, parseV2LocalTarget } from '../../../src/target/v2-local.js';

const DEVICE = 'd0c5e1a7b2f84c3e9a1b6f0e2d4c8a10';
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function fixture(): Json {
  return JSON.parse(
    readFileSync(new URL('../../fixtures/targets/v2-local-balena-push.json', import.meta.url), 'utf8'),
  );
}

describe('target/v2-local isV2LocalShape', () => {
  it.each([
    [fixture(), true],
    [{ local: {} }, true],
    [{ name: 'x', config: {}, apps: {} }, false],
    [{ local: { apps: {} }, apps: {} }, false],
    [{ [DEVICE]: { apps: {} } }, false],
    [{ local: 'x' }, false],
    [null, false],
    ['local', false],
  ])('%j -> %s', (body, expected) => {
    expect(isV2LocalShape(body)).toBe(expected);
  });
});

describe('target/v2-local parseV2LocalTarget', () => {
  it('converts and validates a document as balena push sends it', () => {
    const { target, warnings } = parseV2LocalTarget(fixture(), DEVICE);
    expect(target.uuid).toBe(DEVICE);
    expect(target.name).toBe('dev-board');
    expect(target.config).toEqual({ RESIN_HOST_CONFIG_gpu_mem: '16', SUPERVISOR_POLL_INTERVAL: '60000' });
    expect(Object.keys(target.apps)).toEqual(['1']);
    const app = target.apps['1'];
    expect(app).toMatchObject({ appUuid: '1', appId: 1, name: 'localapp', class: 'fleet' });
    expect(app.release).toMatchObject({
      uuid: 'localrelease',
      id: 1,
      volumes: { 'app-data': {} },
      networks: {},
    });

    const web = app.release!.services.web;
    expect(web).toMatchObject({
      serviceName: 'web',
      serviceId: 1,
      imageId: 1,
      image: 'local_image_web:latest',
      environment: { MODE: 'dev', PORT: '8080' },
      running: true,
      strategy: 'hand-over',
      supervisorApi: true,
    });
    expect(web.composition).toEqual({
      restart: 'unless-stopped',
      networkMode: 'host',
      privileged: true,
      volumes: [{ volume: 'app-data', target: '/var/lib/app', readOnly: false }],
      dependsOn: [],
      stopGracePeriodSec: 30,
      healthcheck: {
        test: ['CMD-SHELL', 'wget -q -O- http://127.0.0.1:8080/'],
        intervalMs: 30000,
        startPeriodMs: 5000,
      },
    });

    const worker = app.release!.services.worker;
    expect(worker).toMatchObject({
      serviceId: 2,
      imageId: 2,
      image: 'local_image_worker:latest',
      running: false,
    });
    expect(worker.composition).toMatchObject({
      command: ['sh', '-c', 'while true; do sleep 5; done'],
      dependsOn: ['web'],
      init: true,
    });

    // privileged is a composition key now; contract and the fixed v2 fields are not composition keys.
    expect(warnings).toEqual([]);
  });

  it('gives an app without a commit no release', () => {
    const { target } = parseV2LocalTarget(
      { local: { name: 'n', config: {}, apps: { 7: { name: 'a' } } } },
      DEVICE,
    );
    expect(target.apps['7']).toEqual({ appUuid: '7', appId: 7, name: 'a', class: 'fleet' });
  });

  it('accepts an empty local target', () => {
    expect(parseV2LocalTarget({ local: {} }, DEVICE).target).toEqual({ uuid: DEVICE, config: {}, apps: {} });
  });

  it('produces a v3 device object', () => {
    const device = convertV2LocalTarget(fixture());
    expect(Object.keys(device.apps as object)).toEqual(['1']);
    expect((device.apps as Json)['1'].releases.localrelease.services.web.composition).toHaveProperty(
      'network_mode',
      'host',
    );
  });

  type Case = [string, (doc: Json) => void, string, RegExp];
  const cases: Case[] = [
    [
      'a non-numeric app key',
      (d) => (d.local.apps.abc = d.local.apps['1']),
      'local.apps.abc',
      /numeric app id/,
    ],
    [
      'a missing serviceName',
      (d) => delete d.local.apps['1'].services['1'].serviceName,
      'local.apps.1.services.1.serviceName',
      /non-empty string/,
    ],
    [
      'two services with one name',
      (d) => (d.local.apps['1'].services['2'].serviceName = 'web'),
      'local.apps.1.services',
      /two services are named "web"/,
    ],
    [
      'both spellings of one key',
      (d) => (d.local.apps['1'].services['1'].network_mode = 'none'),
      'local.apps.1.services.1.network_mode',
      /given twice/,
    ],
    ['local not an object', (d) => (d.local = 3), 'local', /expected an object/],
    [
      'a bad image (reported on the converted v3 path)',
      (d) => (d.local.apps['1'].services['1'].image = 42),
      'apps.1.releases.localrelease.services.web.image',
      /non-empty string, found number 42/,
    ],
    [
      'a non-numeric releaseId',
      (d) => (d.local.apps['1'].releaseId = 'one'),
      'apps.1.releases.localrelease.id',
      /positive whole number/,
    ],
  ];

  it.each(cases)('rejects %s', (_what, edit, path, message) => {
    const doc = fixture();
    edit(doc);
    let caught: unknown;
    try {
      parseV2LocalTarget(doc, DEVICE);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TargetValidationError);
    expect((caught as TargetValidationError).path).toBe(path);
    expect((caught as Error).message).toMatch(message);
  });
});
