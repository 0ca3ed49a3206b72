import { describe, expect, it } from '@jest/globals';
import { parseCompose } from '../../src/fleet/compose.js';
import { ComposeError } from '../../src/fleet/errors.js';

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

  it('splits string commands like a shell and normalises volumes and depends_on', () => {
    const spec = parseCompose({
      services: {
        a: {
          image: 'x',
          command: `sh -c 'echo "a b"' c\\ d`,
          volumes: [{ type: 'volume', source: 'v', target: '/v', read_only: true }],
        },
        b: { image: 'x', depends_on: { a: { condition: 'service_started' } }, volumes: ['v:/data:rw'] },
      },
      volumes: { v: null },
    });
    expect(spec.services.a?.composition).toEqual({
      command: ['sh', '-c', 'echo "a b"', 'c d'],
      volumes: ['v:/v:ro'],
    });
    expect(spec.services.b?.composition).toEqual({ depends_on: ['a'], volumes: ['v:/data'] });
    expect(spec.volumes).toEqual({ v: {} });
  });

  it('gives a string healthcheck test the shell form', () => {
    const spec = parseCompose({
      services: { a: { image: 'x', healthcheck: { test: 'true', start_period: '1m30s' } } },
    });
    expect(spec.services.a?.composition.healthcheck).toEqual({
      test: ['CMD-SHELL', 'true'],
      start_period: '1m30s',
    });
  });

  it('reports YAML syntax errors with line and column', () => {
    const [issue] = issuesOf('services:\n  a:\n    image: "unclosed\n');
    expect(issue).toMatchObject({ path: '', line: expect.any(Number) });
    expect(issuesOf('services:\n  a:\n    image: x\n  a:\n    image: y\n')).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/unique/), line: 4 }),
    ]);
  });

  it('reports each bad field by path, with the line of the node in YAML text', () => {
    const issues = issuesOf(`services:
  main:
    image: x
    restart: sometimes
    stop_grace_period: soon
    init: "yes"
    environment: [NOEQUALS]
`);
    expect(issues).toEqual([
      expect.objectContaining({ path: 'services.main.environment', line: 7 }),
      expect.objectContaining({ path: 'services.main.restart', line: 4 }),
      expect.objectContaining({ path: 'services.main.stop_grace_period', line: 5 }),
      expect.objectContaining({ path: 'services.main.init', message: 'must be true or false', line: 6 }),
    ]);
  });

  it('refuses missing images, unknown fields, bind mounts, undeclared volumes and unknown dependencies', () => {
    const issues = issuesOf({
      services: {
        a: { privileged: true },
        b: { image: 'x', volumes: ['/host:/data', 'nope:/x'], depends_on: ['c'], network_mode: 'bridge' },
      },
      networks: {},
    });
    expect(issues.map((issue) => `${issue.path}: ${issue.message}`)).toEqual([
      'networks: unsupported top-level key',
      'services.a.image: required',
      'services.a.privileged: unsupported field',
      'services.b.volumes.0: bind mount "/host" is not supported; use a named volume',
      'services.b.volumes.1: volume "nope" is not declared in the top-level volumes',
      'services.b.depends_on: unknown service c',
      'services.b.network_mode: must be one of host, none',
    ]);
  });

  it('needs a map with at least one service', () => {
    expect(issuesOf('just text')[0]?.message).toMatch(/must be a map/);
    expect(issuesOf({ services: {} })[0]).toMatchObject({ path: 'services' });
    expect(issuesOf({ services: { 'bad name': { image: 'x' } } })[0]).toMatchObject({
      path: 'services.bad name',
    });
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
