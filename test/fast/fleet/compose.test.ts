import { describe, expect, it } from '@jest/globals';
import { parseCompose } from '../../../src/fleet/compose.js';
import { ComposeError } from '../../../src/fleet/errors.js';

function issuesOf(input: unknown): Array<{ path: string; message: string; line?: number }> {
  try {
    parseCompose(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ComposeError);
    return (err as ComposeError).issues;
  }
  throw new Error('expected the compose file to be rejected');
}

describe('fleet/compose parseCompose', () => {
  it('reads map and list forms of environment and labels into string maps', () => {
    const spec = parseCompose(`
services:
  a:
    image: x:1
    environment: { N: 3, B: true, E: null }
    labels: ["k=v=w"]
  b:
    image: y:1
    environment: ["X=1", "EMPTY="]
`);
    expect(spec.services.a).toEqual({
      image: 'x:1',
      environment: { N: '3', B: 'true', E: '' },
      labels: { k: 'v=w' },
      composition: {},
    });
    expect(spec.services.b?.environment).toEqual({ X: '1', EMPTY: '' });
  });

  it('carries every other service key into the composition as written, for the device to judge', () => {
    const spec = parseCompose({
      services: {
        a: {
          image: 'x',
          command: `sh -c 'echo "a b"' c\\ d`,
          working_dir: 'app',
          privileged: true,
          depends_on: { b: { condition: 'service_started' } },
        },
        b: { image: 'x', volumes: ['v:/data:rw'] },
      },
      volumes: { v: null },
      networks: { front: { driver: 'bridge' } },
    });
    expect(spec.services.a?.composition).toEqual({
      command: `sh -c 'echo "a b"' c\\ d`,
      working_dir: 'app',
      privileged: true,
      depends_on: { b: { condition: 'service_started' } },
    });
    expect(spec.services.b?.composition).toEqual({ volumes: ['v:/data:rw'] });
    expect(spec.volumes).toEqual({ v: {} });
    expect(spec.networks).toEqual({ front: { driver: 'bridge' } });
  });

  it('leaves values it cannot map as they are, for the device to name', () => {
    const spec = parseCompose({ services: { a: { image: 7, environment: { E: { nested: 1 } } } } });
    expect(spec.services.a).toMatchObject({ image: 7, environment: { E: { nested: 1 } } });
  });

  it('reports YAML syntax errors with line and column', () => {
    const [issue] = issuesOf('services:\n  a:\n    image: "unclosed\n');
    expect(issue).toMatchObject({ path: '', line: expect.any(Number) });
    expect(issuesOf('services:\n  a:\n    image: x\n  a:\n    image: y\n')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/unique/), line: 4 }),
    ]);
  });

  it('reports what cannot be mapped onto a release, by path and line', () => {
    const issues = issuesOf(`services:
  main:
    image: x
    environment: [NOEQUALS]
  side: just text
secrets: {}
volumes: [a, b]
`);
    expect(issues).toEqual([
      expect.objectContaining({ path: 'secrets', message: 'unsupported top-level key', line: 6 }),
      expect.objectContaining({ path: 'volumes', line: 7 }),
      expect.objectContaining({
        path: 'services.main.environment',
        message: 'item 0 ("NOEQUALS") must be a "KEY=VALUE" string',
        line: 4,
      }),
      expect.objectContaining({ path: 'services.side', line: 5 }),
    ]);
  });

  it('needs a map with at least one service', () => {
    expect(issuesOf('just text')[0]?.message).toMatch(/must be a map/);
    expect(issuesOf({ services: {} })[0]).toMatchObject({ path: 'services' });
  });

  it('ignores version, name and x- extension keys', () => {
    const spec = parseCompose({
      version: '2.4',
      name: 'p',
      'x-common': { a: 1 },
      services: { a: { image: 'x' } },
    });
    expect(Object.keys(spec.services)).toEqual(['a']);
  });
});
