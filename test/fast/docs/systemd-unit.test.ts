/**
 * examples/bosun.service is what the README tells device owners to install: its ExecStart must run
 * the file package.json's bin ships, as `agent`, with node flags this node accepts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';

const ROOT = new URL('../../../', import.meta.url);
const unit = readFileSync(new URL('examples/bosun.service', ROOT), 'utf8');
const bin = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { bin: { bosun: string } })
  .bin.bosun;

describe('examples/bosun.service', () => {
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];

  it('runs the shipped bundle as the agent', () => {
    expect(execStart[0]).toBe('/usr/bin/node');
    expect(execStart.slice(-2)).toEqual([`/opt/bosun/${bin}`, 'agent']);
  });

  it('passes node only flags it accepts', () => {
    const flags = execStart.slice(1, -2);
    expect(flags.length).toBeGreaterThan(0);
    expect(flags.every((flag) => flag.startsWith('--'))).toBe(true);
    // node exits 9 on an unknown option; a flag it takes leaves `-e 0` a clean exit.
    expect(() => execFileSync(process.execPath, [...flags, '-e', '0'], { stdio: 'pipe' })).not.toThrow();
  });
});
