import { describe, expect, it } from '@jest/globals';
import {
  AuthFailureThrottle,
  DEFAULT_AUTH_THROTTLE,
  throttleSource,
} from '../../../src/fleet/auth-throttle.js';

function throttleAt(options: Partial<typeof DEFAULT_AUTH_THROTTLE> = {}) {
  const clock = { now: 1_000_000 };
  const throttle = new AuthFailureThrottle(options, () => clock.now);
  return { clock, throttle };
}

describe('fleet/auth-throttle', () => {
  it('blocks a source after maxFailures in a window, until the window ends', () => {
    const { clock, throttle } = throttleAt({ maxFailures: 3, windowMs: 60_000 });
    for (let i = 0; i < 2; i++) throttle.recordFailure('10.0.0.1');
    expect(throttle.blockedForMs('10.0.0.1')).toBe(0);
    clock.now += 10_000;
    throttle.recordFailure('10.0.0.1');
    // The window opened at the first failure: 50 s of it are left.
    expect(throttle.blockedForMs('10.0.0.1')).toBe(50_000);
    expect(throttle.blockedForMs('10.0.0.2')).toBe(0);
    clock.now += 49_999;
    expect(throttle.blockedForMs('10.0.0.1')).toBe(1);
    clock.now += 1;
    expect(throttle.blockedForMs('10.0.0.1')).toBe(0);
    // A new window: the count starts again.
    throttle.recordFailure('10.0.0.1');
    expect(throttle.blockedForMs('10.0.0.1')).toBe(0);
  });

  it('forgets sources whose window has ended, and never keeps more than maxSources', () => {
    const { clock, throttle } = throttleAt({ maxFailures: 2, windowMs: 1000, maxSources: 100 });
    for (let i = 0; i < 50; i++) throttle.recordFailure(`10.0.0.${i}`);
    expect(throttle.size).toBe(50);
    clock.now += 1000;
    throttle.recordFailure('10.0.1.1');
    expect(throttle.size).toBe(1);

    for (let i = 0; i < 10_000; i++) throttle.recordFailure(`10.1.${i >> 8}.${i & 255}`);
    expect(throttle.size).toBe(100);
    // The least recently failing went first; the most recent are kept.
    throttle.recordFailure('10.1.39.15'); // i = 9999
    expect(throttle.blockedForMs('10.1.39.15')).toBeGreaterThan(0);
    expect(throttle.blockedForMs('10.1.0.0')).toBe(0);
  });

  it('keeps a source that keeps failing when others crowd in', () => {
    const { throttle } = throttleAt({ maxFailures: 1, maxSources: 10 });
    throttle.recordFailure('attacker');
    for (let i = 0; i < 100; i++) {
      throttle.recordFailure('attacker');
      throttle.recordFailure(`crowd-${i}`);
    }
    expect(throttle.size).toBe(10);
    expect(throttle.blockedForMs('attacker')).toBeGreaterThan(0);
  });

  it('throttles IPv4 by address, IPv6 by /64 prefix, IPv4-mapped IPv6 as IPv4', () => {
    expect(throttleSource('192.0.2.7')).toBe('192.0.2.7');
    expect(throttleSource('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(throttleSource('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(throttleSource('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(throttleSource('::1')).toBe('0:0:0:0::/64');
    expect(throttleSource('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleSource('64:ff9b::192.0.2.7')).toBe('64:ff9b:0:0::/64');
    expect(throttleSource('not an address')).toBe('not an address');
    expect(throttleSource(undefined)).toBe('unknown');
  });
});
