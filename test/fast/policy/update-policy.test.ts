import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/util/errors.js';
import { resolveAppPolicy, windowState } from '../../../src/policy/update-policy.js';
import { parseUpdateWindow } from '../../../src/policy/update-window.js';
import { parseDeviceObject } from '../../../src/target/validate.js';
import { app, service } from '../../helpers/builders.js';
import { deviceObject } from '../../helpers/targets.js';

const none = { lockDeadline: '', updateWindow: '', probation: '' };
const withLabels = (...labels: Array<Record<string, string>>) =>
  app('a1', 1, {
    uuid: 'r1',
    id: 1,
    services: labels.map((l, i) => service(`s${i}`, { labels: l })),
  });

describe('policy/update-policy: where each policy comes from (contract section 10)', () => {
  it('defaults: no deadline, any time, 60 s probation', () => {
    expect(resolveAppPolicy(withLabels({}), {}, none)).toEqual({
      lockDeadlineMs: undefined,
      windows: [],
      probationMs: 60_000,
    });
  });

  it('the label wins over the cloud var, which wins over the device env', () => {
    const device = { lockDeadline: '10m', updateWindow: '* 01:00-02:00', probation: '5m' };
    expect(resolveAppPolicy(withLabels({}), {}, device)).toMatchObject({
      lockDeadlineMs: 600_000,
      probationMs: 300_000,
    });
    const cloud = { RESIN_SUPERVISOR_UPDATE_LOCK_DEADLINE: '2m', BALENA_SUPERVISOR_UPDATE_PROBATION: '30s' };
    expect(resolveAppPolicy(withLabels({}), cloud, device)).toMatchObject({
      lockDeadlineMs: 120_000,
      probationMs: 30_000,
    });
    const labelled = withLabels({ 'io.bosun.update.lock-deadline': '90s', 'io.bosun.update.probation': '0' });
    expect(resolveAppPolicy(labelled, cloud, device)).toMatchObject({
      lockDeadlineMs: 90_000,
      probationMs: 0,
    });
  });

  it('with several services, the strictest: the shortest deadline, the longest probation, every window', () => {
    const policy = resolveAppPolicy(
      withLabels(
        {
          'io.bosun.update.lock-deadline': '5m',
          'io.bosun.update.probation': '1m',
          'io.bosun.update.window': '* 01:00-05:00',
        },
        {
          'io.bosun.update.lock-deadline': '30s',
          'io.bosun.update.probation': '10m',
          'io.bosun.update.window': '* 03:00-06:00',
        },
      ),
      {},
      none,
    );
    expect(policy).toMatchObject({ lockDeadlineMs: 30_000, probationMs: 600_000 });
    expect(policy.windows).toHaveLength(2);
    // Open only where both are: 03:00-05:00 UTC.
    const at = (hhmm: string) => Date.parse(`2026-06-01T${hhmm}:00Z`);
    expect(windowState(policy.windows, at('02:00'))).toEqual({ open: false, opensAt: at('03:00') });
    expect(windowState(policy.windows, at('04:00'))).toEqual({ open: true });
    expect(windowState(policy.windows, at('05:30')).open).toBe(false);
  });

  it('windowState of no window is always open', () => {
    expect(windowState([], Date.now())).toEqual({ open: true });
    expect(windowState([parseUpdateWindow('* 00:00-24:00')], Date.now())).toEqual({ open: true });
  });
});

describe('policy/update-policy: a malformed value rejects the target whole, naming the var or label', () => {
  const device = (over: { config?: Record<string, string>; labels?: Record<string, string> }) =>
    deviceObject({
      appUuid: 'a1',
      appId: 1,
      releaseUuid: 'r1',
      releaseId: 1,
      services: { main: { image: 'reg/main:1', labels: over.labels } },
      config: over.config,
    });

  it.each([
    [
      { config: { SUPERVISOR_UPDATE_LOCK_DEADLINE: 'soon' } },
      /^config\.SUPERVISOR_UPDATE_LOCK_DEADLINE: expected a duration/,
    ],
    [
      { config: { BALENA_SUPERVISOR_UPDATE_WINDOW: 'Mo 02:00-03:00' } },
      /^config\.BALENA_SUPERVISOR_UPDATE_WINDOW: .*unknown day "Mo"/,
    ],
    [
      { labels: { 'io.bosun.update.probation': '-5s' } },
      /services\.main\.labels\["io\.bosun\.update\.probation"\]: expected a duration/,
    ],
    [
      { labels: { 'io.bosun.update.window': '02:00-03:00 Mars/Olympus' } },
      /labels\["io\.bosun\.update\.window"\]: unknown time zone "Mars\/Olympus"/,
    ],
  ])('%j', (over, message) => {
    expect(() => parseDeviceObject(device(over), 'device-1')).toThrow(message);
  });

  it('in the device env, start-up stops with the variable named (exit 2)', () => {
    expect(() => loadConfig({ BOSUN_UPDATE_WINDOW: 'whenever' })).toThrow(ConfigError);
    expect(() => loadConfig({ BOSUN_UPDATE_LOCK_DEADLINE: '40d' })).toThrow(/BOSUN_UPDATE_LOCK_DEADLINE/);
  });
});
