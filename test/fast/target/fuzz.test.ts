/**
 * Fuzzing target validation (attack review #5): documents made by mutating valid ones (deep,
 * wide, odd names such as unicode, NUL, `__proto__` and `constructor`, huge values, wrong types in
 * every field). Whatever comes in, validation either accepts the document whole or rejects it
 * with its own TargetValidationError; it never throws anything else, never takes long, never
 * drops part of an accepted document silently, and never touches Object.prototype.
 *
 * Reproduce a failure with TARGET_FUZZ_SEED=<seed printed in the failure>.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import {
  TargetValidationError,
  parseTargetDocument,
  type ParsedTarget,
} from '../../../src/target/validate.js';
import { parseV2LocalTarget } from '../../../src/target/v2-local.js';
import { DEVICE, FIXTURE } from '../../fixtures/targets/contract-doc.js';

const SEED = Number(process.env.TARGET_FUZZ_SEED ?? 0x7a26e7);
const V3_DOCUMENTS = 1500;
const V2_DOCUMENTS = 1000;
/** Per document; the caps make the worst case (a 4 MiB walk) a few milliseconds. */
const MAX_MS_PER_DOCUMENT = 1_000;

const V2_FIXTURE = readFileSync(
  new URL('../../fixtures/targets/v2-local-balena-push.json', import.meta.url),
  'utf8',
);

type Json = Record<string, unknown>;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof prng>;

const ODD_NAMES = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '',
  ' ',
  '\0',
  'A\0B',
  'A\nB',
  'A=B',
  '\r',
  'é',
  'Ünïcode',
  '🚀',
  '\u202eevil',
  '\ud800',
  'x'.repeat(300),
  '0',
  '-1',
  '1e3',
  'NaN',
  'main',
  'id',
  'apps',
  'releases',
  'services',
  'io.balena.update.strategy',
  'io.balena.features.supervisor-api',
  'RESIN_OVERRIDE_LOCK',
];
const ODD_STRINGS = [
  ...ODD_NAMES,
  'reg/x:1',
  'REG/X:1',
  'reg/x@sha256:' + 'a'.repeat(64),
  'a@b@c',
  '127.0.0.1:5000/x:1',
  'hand-over',
  'on-failure:3',
  'host',
  'none',
  'service:main',
  '10s',
  '1m30s',
  '-5s',
  'true',
  '1',
  'sh -c "unterminated',
  "it's",
  'name:/path:ro',
  '/etc:/etc',
];
const ODD_NUMBERS = [
  0,
  -0,
  -1,
  1,
  1.5,
  7,
  1234,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e308,
  -1e-308,
  NaN,
  Infinity,
  -Infinity,
];

/** Own property, `__proto__` included, as JSON.parse makes it. */
function setOwn(target: Json | unknown[], key: string | number, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function nested(depth: number, leaf: unknown, asArrays: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) {
    if (asArrays) value = [value];
    else {
      const wrapper: Json = {};
      setOwn(wrapper, '__proto__', value);
      value = wrapper;
    }
  }
  return value;
}

/** A value of any JSON type, odd ones favoured; now and then a deep, wide or huge one. */
function randomValue(rng: Rng, budget = 3): unknown {
  const roll = rng.int(100);
  if (roll < 8) return null;
  if (roll < 14) return rng.chance(0.5);
  if (roll < 30) return rng.pick(ODD_NUMBERS);
  if (roll < 55) return rng.pick(ODD_STRINGS);
  if (roll < 65 && budget > 0) return Array.from({ length: rng.int(4) }, () => randomValue(rng, budget - 1));
  if (roll < 80 && budget > 0) {
    const out: Json = {};
    for (let i = rng.int(4); i > 0; i--) setOwn(out, rng.pick(ODD_NAMES), randomValue(rng, budget - 1));
    return out;
  }
  if (roll < 85)
    return nested(rng.pick([10, 63, 64, 65, 100, 5_000, 100_000]), rng.pick(ODD_STRINGS), rng.chance(0.5));
  if (roll < 88) {
    const wide: Json = {};
    for (let i = rng.int(3_000); i > 0; i--)
      setOwn(wide, `k${i}${rng.pick(ODD_NAMES)}`, rng.pick(ODD_STRINGS));
    return wide;
  }
  if (roll < 89) return 'é'.repeat(rng.pick([100_000, 2 * 1024 * 1024, 3_000_000]));
  return undefined; // a field made absent
}

/** Every object and array in the document, down to `maxDepth` (inserted deep values are not walked). */
function containers(doc: unknown, maxDepth = 12): Array<Json | unknown[]> {
  const found: Array<Json | unknown[]> = [];
  const stack: Array<[unknown, number]> = [[doc, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null || depth > maxDepth) continue;
    found.push(value as Json);
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return found;
}

/** One to four edits anywhere in the document: replace, delete, add or rename a field. */
function mutate(doc: Json, rng: Rng): void {
  for (let edits = 1 + rng.int(4); edits > 0; edits--) {
    const node = rng.pick(containers(doc));
    const keys = Object.keys(node);
    const key = keys.length > 0 && !rng.chance(0.2) ? rng.pick(keys) : rng.pick(ODD_NAMES);
    const action = rng.int(4);
    if (action === 0 || Array.isArray(node))
      setOwn(node, Array.isArray(node) ? rng.int(node.length + 1) : key, randomValue(rng));
    else if (action === 1) delete node[key];
    else if (action === 2) setOwn(node, rng.pick(ODD_NAMES), randomValue(rng));
    else {
      // Own values only: `node.__proto__` read through would put Object.prototype in the document.
      const value = Object.hasOwn(node, key) ? node[key] : undefined;
      delete node[key];
      setOwn(node, rng.pick(ODD_NAMES), value);
    }
  }
}

/** Own keys of an input record, as the accepted target must have them. */
function ownKeys(value: unknown): string[] {
  return typeof value === 'object' && value !== null ? Object.keys(value).sort() : [];
}

/**
 * An accepted v3 device object must come through whole: every app (but the host OS app), every
 * service, every variable, label and config key; and it must be storable as JSON.
 */
function checkAcceptedWhole(device: Json, parsed: ParsedTarget): void {
  expect(() => JSON.stringify(device)).not.toThrow();
  const { target } = parsed;
  expect(Object.getPrototypeOf(target.apps)).toBe(Object.prototype);
  const apps = device.apps as Record<string, Json>;
  const kept = Object.keys(apps).filter((uuid) => (apps[uuid] as Json).is_host !== true);
  expect(Object.keys(target.apps).sort()).toEqual(kept.sort());
  expect(Object.keys(target.config).sort()).toEqual(ownKeys(device.config));
  for (const uuid of kept) {
    const releases = (apps[uuid]!.releases ?? {}) as Record<string, Json>;
    const release = target.apps[uuid]!.release;
    expect(release?.uuid).toBe(Object.keys(releases)[0]);
    if (!release) continue;
    const services = (releases[release.uuid]!.services ?? {}) as Record<string, Json>;
    expect(Object.keys(release.services).sort()).toEqual(ownKeys(services));
    for (const [name, service] of Object.entries(release.services)) {
      expect(Object.keys(service.environment).sort()).toEqual(ownKeys(services[name]!.environment));
      expect(Object.keys(service.labels).sort()).toEqual(ownKeys(services[name]!.labels));
    }
  }
}

/** Runs validation on one document; any throw but a TargetValidationError, or a slow answer, fails. */
function validate<T>(
  run: () => T,
  describeCase: () => string,
): { accepted: T } | { rejected: TargetValidationError } {
  const started = performance.now();
  let outcome: { accepted: T } | { rejected: TargetValidationError };
  try {
    outcome = { accepted: run() };
  } catch (err) {
    if (!(err instanceof TargetValidationError)) {
      throw new Error(`${describeCase()}: threw ${String(err)} instead of a TargetValidationError`, {
        cause: err,
      });
    }
    expect(err.code).toBe('ETARGET_INVALID');
    expect(typeof err.message).toBe('string');
    outcome = { rejected: err };
  }
  const took = performance.now() - started;
  if (took > MAX_MS_PER_DOCUMENT) throw new Error(`${describeCase()}: took ${Math.round(took)} ms`);
  return outcome;
}

describe('target validation under fuzzing', () => {
  it(`v3 documents (seed ${SEED}): accepted whole or rejected with TargetValidationError, quickly`, () => {
    const rng = prng(SEED);
    const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
    const counts = { accepted: 0, rejected: 0 };
    for (let i = 0; i < V3_DOCUMENTS; i++) {
      const doc = JSON.parse(FIXTURE) as Json;
      mutate(doc, rng);
      const outcome = validate(
        () => parseTargetDocument(doc, DEVICE),
        () => `TARGET_FUZZ_SEED=${SEED} v3 document ${i}`,
      );
      if ('accepted' in outcome) {
        counts.accepted += 1;
        checkAcceptedWhole(doc[DEVICE] as Json, outcome.accepted);
      } else counts.rejected += 1;
    }
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeKeys);
    // The generator must exercise both outcomes, or the test proves nothing.
    expect(counts.accepted).toBeGreaterThan(V3_DOCUMENTS / 20);
    expect(counts.rejected).toBeGreaterThan(V3_DOCUMENTS / 4);
  });

  it(`v2 local bodies (seed ${SEED}): converted and validated, or rejected with TargetValidationError`, () => {
    const rng = prng(SEED + 1);
    const counts = { accepted: 0, rejected: 0 };
    for (let i = 0; i < V2_DOCUMENTS; i++) {
      const body = JSON.parse(V2_FIXTURE) as Json;
      mutate(body, rng);
      const outcome = validate(
        () => parseV2LocalTarget(body, DEVICE),
        () => `TARGET_FUZZ_SEED=${SEED} v2 body ${i}`,
      );
      if ('accepted' in outcome) {
        counts.accepted += 1;
        const local = body.local as Json;
        const apps = local.apps as Record<string, Json>;
        expect(Object.keys(outcome.accepted.target.apps).sort()).toEqual(ownKeys(apps));
        for (const [appId, app] of Object.entries(outcome.accepted.target.apps)) {
          const services = (apps[appId]!.services ?? {}) as Record<string, Json>;
          const hasCommit =
            apps[appId]!.commit !== undefined && apps[appId]!.commit !== null && apps[appId]!.commit !== '';
          expect(app.release !== undefined).toBe(hasCommit);
          if (app.release)
            expect(Object.keys(app.release.services)).toHaveLength(Object.keys(services).length);
        }
      } else counts.rejected += 1;
    }
    expect(counts.accepted).toBeGreaterThan(V2_DOCUMENTS / 20);
    expect(counts.rejected).toBeGreaterThan(V2_DOCUMENTS / 4);
  });

  const protoCases: Array<[string, (device: Json) => void]> = [
    ['an app uuid', (d) => setOwn(d.apps as Json, '__proto__', Object.values(d.apps as Json)[0])],
    ['a variable name', (d) => setOwn(serviceOf(d).environment as Json, '__proto__', 'x')],
    ['a label key', (d) => setOwn(serviceOf(d).labels as Json, '__proto__', 'x')],
    ['a config key', (d) => setOwn(d.config as Json, '__proto__', 'x')],
  ];
  it.each(protoCases)('rejects `__proto__` as %s instead of dropping it', (_what, edit) => {
    const doc = JSON.parse(FIXTURE) as Json;
    edit(doc[DEVICE] as Json);
    expect(() => parseTargetDocument(doc, DEVICE)).toThrow(/__proto__/);
  });

  it('rejects `__proto__` as a v2 commit or service name instead of dropping the release or service', () => {
    const commit = JSON.parse(V2_FIXTURE) as { local: { apps: Record<string, Json> } };
    commit.local.apps['1']!.commit = '__proto__';
    expect(() => parseV2LocalTarget(commit, DEVICE)).toThrow(/__proto__/);
    const service = JSON.parse(V2_FIXTURE) as {
      local: { apps: Record<string, { services: Record<string, Json> }> };
    };
    service.local.apps['1']!.services['2']!.serviceName = '__proto__';
    expect(() => parseV2LocalTarget(service, DEVICE)).toThrow(/__proto__/);
  });
});

function serviceOf(device: Json): Json {
  const app = Object.values(device.apps as Record<string, Json>)[0]!;
  const release = Object.values(app.releases as Record<string, Json>)[0]!;
  return (release.services as Record<string, Json>).main!;
}
