import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { main } from '../../../src/cli.js';
import { VERSION } from '../../../src/version.js';

describe('cli', () => {
  let out: string;
  let err: string;
  const env = { ...process.env };
  beforeEach(() => {
    out = '';
    err = '';
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      err += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.env = { ...env };
  });

  it.each([[['--help']], [['agent', '--help']], [['fleet', '--help']], [['fleet', 'serve', '--help']]])(
    '%j prints usage and exits 0',
    async (args) => {
      expect(await main(['node', 'bosun', ...args])).toBe(0);
      expect(out).toContain('Usage: bosun');
    },
  );

  // The fleet verbs are loaded only for `fleet` and `help` (src/cli.ts): both still list them.
  it.each([[['fleet', '--help']], [['help', 'fleet']], [['fleet', 'help']]])(
    '%j lists the fleet verbs',
    async (args) => {
      expect(await main(['node', 'bosun', ...args])).toBe(0);
      expect(out).toContain('Usage: bosun fleet');
      expect(out).toMatch(/^ {2}serve\b/m);
      expect(out).toMatch(/^ {2}push\b/m);
    },
  );

  // That `bosun agent` does not load the fleet verbs at all is checked by the build (scripts/build/bundle.ts).
  it('lists `agent` and `fleet` in the top-level help', async () => {
    expect(await main(['node', 'bosun', '--help'])).toBe(0);
    expect(out).toMatch(/^ {2}agent \[options\] +run the device agent/m);
    expect(out).toMatch(/^ {2}fleet +the fleet backend and the fleet manager CLI/m);
  });

  it('exits 2 with one line on an unknown command', async () => {
    expect(await main(['node', 'bosun', 'bogus'])).toBe(2);
    expect(err).toContain("unknown command 'bogus'");
  });

  it('exits 2 naming the key on bad config', async () => {
    process.env.BOSUN_LISTEN_PORT = '99999';
    expect(await main(['node', 'bosun', 'agent'])).toBe(2);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toContain('BOSUN_LISTEN_PORT');
  });

  it('prints the effective config with secrets masked', async () => {
    process.env.BOSUN_API_KEY = 'super-secret-key';
    expect(await main(['node', 'bosun', 'agent', '--print-config'])).toBe(0);
    const printed = JSON.parse(out) as Record<string, unknown>;
    expect(printed.apiKey).toBe('********');
    expect(printed.listenPort).toBe(48484);
    expect(out).not.toContain('super-secret-key');
  });

  it('reports the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    expect(await main(['node', 'bosun', '--version'])).toBe(0);
    expect(out.trim()).toBe(VERSION);
  });
});
