/**
 * Findings of the attack review against target validation (#9 pathological documents, #13
 * duplicate app ids, #15 env var names and label keys): each test is the attack, rejected whole.
 */
import { describe, expect, it } from '@jest/globals';
import { MAX_TARGET_BYTES, MAX_TARGET_DEPTH, checkTargetLimits } from '../../../src/target/limits.js';
import {
  TargetValidationError,
  parseDeviceObject,
  parseTargetDocument,
} from '../../../src/target/validate.js';
import { parseV2LocalTarget } from '../../../src/target/v2-local.js';
import { APP, DEVICE, SVC, doc, type Json } from '../../fixtures/targets/contract-doc.js';

function rejection(run: () => unknown): TargetValidationError {
  try {
    run();
  } catch (err) {
    if (err instanceof TargetValidationError) return err;
    throw err;
  }
  throw new Error('the document was accepted');
}

/** `[[[...0...]]]`, `depth` arrays deep, built without recursion. */
function nestedArrays(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** `{ a: { a: ... } }`, `depth` objects deep. */
function nestedObjects(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
}

/** A small v2 local body (balena's `{ local: ... }`) with one app and one service. */
function v2Body(edit: (service: Json, local: Json) => void = () => {}): Json {
  const service: Json = { serviceName: 'main', imageId: 1, image: 'reg/x:1', environment: {}, labels: {} };
  const local: Json = {
    name: 'd',
    config: {},
    apps: { '5': { name: 'a', commit: 'c1', releaseId: 1, services: { '1': service } } },
  };
  edit(service, local);
  return { local };
}

describe('target/limits: nesting depth and size (#9)', () => {
  it('rejects a value nested 200,000 deep under a key validation ignores, naming the cap', () => {
    const body = doc(({ device }) => (device.junk = nestedArrays(200_000)));
    const started = Date.now();
    const err = rejection(() => parseTargetDocument(body, DEVICE));
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(err.message).toMatch(`nested deeper than ${MAX_TARGET_DEPTH} levels`);
    expect(err.path).toMatch(/^"?d0c5e1a7b2f84c3e9a1b6f0e2d4c8a10"?\.junk\[0\]/);
  });

  it('rejects deep nesting in an unsupported composition key and in config', () => {
    const inComposition = doc(({ main }) => (main.composition.x_custom = nestedObjects(100)));
    expect(rejection(() => parseTargetDocument(inComposition, DEVICE)).message).toMatch('nested deeper');
    const inDevice = doc(({ device }) => (device.extra = nestedObjects(MAX_TARGET_DEPTH)));
    expect(rejection(() => parseDeviceObject(inDevice[DEVICE], DEVICE)).path).toMatch(/^extra\.a\.a/);
  });

  it('accepts nesting up to the cap', () => {
    // The device object sits at level 2 of the document: n arrays in `extra` reach level n + 2.
    const body = doc(({ device }) => (device.extra = nestedArrays(MAX_TARGET_DEPTH - 2)));
    expect(() => parseTargetDocument(body, DEVICE)).not.toThrow();
    const over = doc(({ device }) => (device.extra = nestedArrays(MAX_TARGET_DEPTH - 1)));
    expect(() => parseTargetDocument(over, DEVICE)).toThrow(TargetValidationError);
  });

  it(`rejects a document larger than ${MAX_TARGET_BYTES} bytes of JSON, however it is spread`, () => {
    const bigString = doc(({ device }) => (device.junk = 'x'.repeat(MAX_TARGET_BYTES)));
    expect(rejection(() => parseTargetDocument(bigString, DEVICE)).message).toMatch('larger than 4 MiB');
    const manyKeys = doc(({ device }) => {
      device.junk = Object.fromEntries(Array.from({ length: 300_000 }, (_, i) => [`key-${i}`, 'value']));
    });
    expect(rejection(() => parseTargetDocument(manyKeys, DEVICE)).message).toMatch('larger than');
    const bigEnv = doc(({ main }) => (main.environment.HUGE = 'é'.repeat(MAX_TARGET_BYTES / 2)));
    expect(rejection(() => parseTargetDocument(bigEnv, DEVICE)).message).toMatch('larger than');
  });

  it('counts the size exactly as the JSON text', () => {
    const body = { pad: '' };
    const overhead = Buffer.byteLength(JSON.stringify(body));
    body.pad = 'x'.repeat(MAX_TARGET_BYTES - overhead);
    expect(() => checkTargetLimits(body)).not.toThrow();
    body.pad += 'x';
    expect(() => checkTargetLimits(body)).toThrow(TargetValidationError);
  });

  it('ends on a cycle or a widely shared sub-object instead of walking it forever', () => {
    const cyclic: Json = { apps: {} };
    cyclic.self = cyclic;
    expect(rejection(() => parseDeviceObject(cyclic, DEVICE)).message).toMatch('nested deeper');
    let shared: unknown = 'x'.repeat(100);
    for (let i = 0; i < 40; i++) shared = [shared, shared]; // 2^40 leaves as JSON
    const started = Date.now();
    expect(rejection(() => parseDeviceObject({ apps: {}, shared }, DEVICE)).message).toMatch('larger than');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('rejects values JSON cannot carry', () => {
    expect(rejection(() => parseDeviceObject({ apps: {}, n: 10n }, DEVICE)).message).toMatch(
      'a bigint is not a JSON value',
    );
  });

  it('applies the caps to the v2 local shape too', () => {
    const deep = v2Body((service) => (service.x_custom = nestedArrays(1_000)));
    expect(rejection(() => parseV2LocalTarget(deep, DEVICE)).message).toMatch('nested deeper');
  });
});

describe('target/validate: app ids are unique (#13)', () => {
  it('rejects two apps with the same numeric id, naming both uuids and the id', () => {
    const body = doc(({ device, app }) => {
      device.apps.b2c3d4e5f6a7 = { ...structuredClone(app), name: 'twin' };
    });
    const err = rejection(() => parseTargetDocument(body, DEVICE));
    expect(err.path).toBe('apps.b2c3d4e5f6a7.id');
    expect(err.message).toContain(APP);
    expect(err.message).toContain('b2c3d4e5f6a7');
    expect(err.message).toContain('id 1234');
  });

  it('accepts apps with different ids', () => {
    const body = doc(({ device, app }) => {
      device.apps.b2c3d4e5f6a7 = { ...structuredClone(app), id: 1235 };
    });
    expect(Object.keys(parseTargetDocument(body, DEVICE).target.apps)).toHaveLength(2);
  });
});

describe('target/validate: environment names and label keys (#15)', () => {
  const envCases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['a newline in a name', { 'A\nB': '1' }, `${SVC}.environment["A\\nB"]`, /line break/],
    ['a carriage return in a name', { 'A\rB': '1' }, `${SVC}.environment["A\\rB"]`, /line break/],
    ['a NUL in a name', { 'A\0B': '1' }, `${SVC}.environment["A\\u0000B"]`, /NUL/],
    ['"=" in a name', { 'A=B': '1' }, `${SVC}.environment["A=B"]`, /contains "="/],
    ['a NUL in a value', { MODE: 'a\0b' }, `${SVC}.environment.MODE`, /NUL/],
  ];
  it.each(envCases)('rejects %s with the path of the variable', (_what, environment, path, message) => {
    const err = rejection(() =>
      parseTargetDocument(
        doc(({ main }) => (main.environment = environment)),
        DEVICE,
      ),
    );
    expect(err.path).toBe(path);
    expect(err.message).toMatch(message);
  });

  it('rejects an empty variable name', () => {
    const err = rejection(() =>
      parseTargetDocument(
        doc(({ main }) => (main.environment = { '': 'x' })),
        DEVICE,
      ),
    );
    expect(err.path).toMatch(`${SVC}.environment`);
  });

  const labelCases: Array<[string, Record<string, string>, RegExp]> = [
    ['a newline in a key', { 'io.x\nio.y': '1' }, /line break/],
    ['a NUL in a key', { 'io.x\0': '1' }, /NUL/],
    ['an empty key', { '': '1' }, /empty/],
    ['a NUL in a value', { 'io.x': 'a\0' }, /NUL/],
  ];
  it.each(labelCases)('rejects a label with %s', (_what, labels, message) => {
    const err = rejection(() =>
      parseTargetDocument(
        doc(({ main }) => (main.labels = labels)),
        DEVICE,
      ),
    );
    expect(err.path).toMatch(`${SVC}.labels`);
    expect(err.message).toMatch(message);
  });

  it('keeps accepting newlines in values and unusual but valid names', () => {
    const body = doc(({ main }) => {
      main.environment = { CERT: 'line1\nline2', 'my.var-1': 'x', Ünïcode: 'ok' };
      main.labels = { 'io.x': 'a\nb' };
    });
    expect(parseTargetDocument(body, DEVICE).target.apps[APP]!.release!.services.main!.environment.CERT).toBe(
      'line1\nline2',
    );
  });

  it('validates the v2 local shape the same way', () => {
    const badEnv = v2Body((service) => (service.environment = { 'A\nB': '1' }));
    expect(rejection(() => parseV2LocalTarget(badEnv, DEVICE)).path).toBe(
      'apps.5.releases.c1.services.main.environment["A\\nB"]',
    );
    const badLabel = v2Body((service) => (service.labels = { 'a\0': '1' }));
    expect(rejection(() => parseV2LocalTarget(badLabel, DEVICE)).message).toMatch(/NUL/);
    const twin = v2Body();
    expect(() => parseV2LocalTarget(twin, DEVICE)).not.toThrow();
  });
});
