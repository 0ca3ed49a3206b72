import { describe, it, expect } from '@jest/globals';
import { parseComposition, parseDurationMs, splitShellWords } from '../../../src/target/composition.js';
import { TargetValidationError } from '../../../src/target/fields.js';
import type { TargetWarning } from '../../../src/target/types.js';

describe('target/composition helpers', () => {
  it.each([
    ['sleep 3600', ['sleep', '3600']],
    ['  a   b  ', ['a', 'b']],
    [`echo 'it''s'`, ['echo', 'its']],
    [`echo "say \\"hi\\"" x\\ y`, ['echo', 'say "hi"', 'x y']],
    [`sh -c 'a && b'`, ['sh', '-c', 'a && b']],
    [`""`, ['']],
    ['', []],
  ])('splits %j into shell words', (line, words) => {
    expect(splitShellWords(line, 'p')).toEqual(words);
  });

  it.each([
    ['10s', 10000],
    ['1m30s', 90000],
    ['500ms', 500],
    ['1.5h', 5400000],
    ['2000us', 2],
    [2, 2000],
    ['7', 7000],
  ])('parses duration %j as %d ms', (value, ms) => {
    expect(parseDurationMs(value, 'p')).toBe(ms);
  });

  it.each(['', 's', '10 s', '-1s', '1d', true])('rejects duration %j', (value) => {
    expect(() => parseDurationMs(value, 'p')).toThrow(TargetValidationError);
  });

  it('rounds a sub-second stop grace period up to a whole second', () => {
    expect(parseComposition({ stop_grace_period: '500ms' }, 'c', []).stopGracePeriodSec).toBe(1);
  });

  it('reports unsupported healthcheck keys and maps disable to NONE', () => {
    const warnings: TargetWarning[] = [];
    expect(
      parseComposition({ healthcheck: { test: ['CMD', 'true'], foo: 1 } }, 'c', warnings).healthcheck,
    ).toEqual({
      test: ['CMD', 'true'],
    });
    expect(warnings).toEqual([
      { path: 'c.healthcheck.foo', message: 'unsupported healthcheck key "foo" ignored' },
    ]);
    expect(parseComposition({ healthcheck: { disable: true } }, 'c', []).healthcheck).toEqual({
      test: ['NONE'],
    });
    expect(() => parseComposition({ healthcheck: { test: ['ls'] } }, 'c', [])).toThrow(
      /c\.healthcheck\.test/,
    );
  });

  it.each([
    [['relative'], /absolute container path/],
    [['data:relative'], /absolute container path/],
    [['data:/x:z'], /name:\/path:ro/],
    [[{ type: 'tmpfs', target: '/b' }], /volume type "tmpfs" is not supported/],
    [['data:/x', 'data:/x'], /two volumes are mounted at \/x/],
    ['data:/x', /an array of volumes/],
  ])('rejects volumes %j', (volumes, message) => {
    expect(() => parseComposition({ volumes }, 'c', [])).toThrow(message);
  });
});

describe('target/composition: depends_on long form', () => {
  it('keeps the conditions beyond service_started, and rejects an unknown one with its path', () => {
    const parsed = parseComposition(
      {
        depends_on: {
          db: { condition: 'service_healthy' },
          cache: { condition: 'service_started' },
          job: {
            condition: 'service_completed_successfully',
          },
        },
      },
      'services.web.composition',
      [],
    );
    expect(parsed.dependsOn).toEqual(['db', 'cache', 'job']);
    expect(parsed.dependsOnConditions).toEqual({
      db: 'service_healthy',
      job: 'service_completed_successfully',
    });
    expect(parseComposition({ depends_on: ['db'] }, 'c', []).dependsOnConditions).toBeUndefined();
    expect(() =>
      parseComposition(
        { depends_on: { db: { condition: 'service_ready' } } },
        'services.web.composition',
        [],
      ),
    ).toThrow(/services\.web\.composition\.depends_on\.db\.condition: expected one of service_started/);
  });
});
