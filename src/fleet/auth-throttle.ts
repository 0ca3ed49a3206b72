import { isIPv4, isIPv6 } from 'node:net';

export interface AuthThrottleOptions {
  /** Failed authentications one source may make within a window before it is refused. */
  maxFailures: number;
  /** How long a window lasts, from the source's first failure in it. */
  windowMs: number;
  /** Sources remembered at most; the one that failed least recently is forgotten first. */
  maxSources: number;
}

/**
 * 20 failures a minute is far more than a device or an operator with a wrong key makes (the
 * agent backs off for minutes after a refused key) and turns ~8,500 guesses a second into 20 a
 * minute per source. 10,000 sources cost about 1 MB.
 */
export const DEFAULT_AUTH_THROTTLE: Readonly<AuthThrottleOptions> = {
  maxFailures: 20,
  windowMs: 60_000,
  maxSources: 10_000,
};

interface FailureWindow {
  startedAt: number;
  lastFailureAt: number;
  failures: number;
}

/**
 * Counts failed authentications per source in fixed windows (a window opens at a source's first
 * failure) and says when a source is to be refused: once it has failed `maxFailures` times, until
 * its window ends. Successes are never counted, so a busy but correct client is never slowed.
 *
 * Memory is bounded: the map keeps sources in least-recently-failing order, drops those whose
 * window has ended from the front as it goes, and the oldest beyond `maxSources`.
 *
 * A blocked source gets 429 with Retry-After on every request, the right key included, until its
 * window ends. Behind a reverse proxy every client has the proxy's address, so one guesser would
 * block them all: there, let the proxy throttle.
 */
export class AuthFailureThrottle {
  readonly options: Readonly<AuthThrottleOptions>;
  private readonly windows = new Map<string, FailureWindow>();

  constructor(
    options: Partial<AuthThrottleOptions> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.options = { ...DEFAULT_AUTH_THROTTLE, ...options };
  }

  /** How long `source` must wait before it is heard again; 0 when it is not blocked. */
  blockedForMs(source: string): number {
    const window = this.liveWindow(source);
    if (!window || window.failures < this.options.maxFailures) return 0;
    return window.startedAt + this.options.windowMs - this.now();
  }

  recordFailure(source: string): void {
    const now = this.now();
    const window = this.liveWindow(source) ?? { startedAt: now, lastFailureAt: now, failures: 0 };
    window.failures += 1;
    window.lastFailureAt = now;
    // Re-inserting moves the source to the end: the map's order is least recently failing first.
    this.windows.delete(source);
    this.windows.set(source, window);
    this.evict(now);
  }

  /** Sources remembered now (for tests and metrics). */
  get size(): number {
    return this.windows.size;
  }

  private liveWindow(source: string): FailureWindow | undefined {
    const window = this.windows.get(source);
    if (window && this.now() - window.startedAt >= this.options.windowMs) {
      this.windows.delete(source);
      return undefined;
    }
    return window;
  }

  private evict(now: number): void {
    for (const [source, window] of this.windows) {
      // A window starts no later than its last failure: once that is a window old, it has ended.
      const ended = now - window.lastFailureAt >= this.options.windowMs;
      if (!ended && this.windows.size <= this.options.maxSources) break;
      this.windows.delete(source);
    }
  }
}

/**
 * The key a request's source is throttled under: an IPv4 address as it is, an IPv6 address by
 * its /64 prefix (one subscriber usually holds a whole /64 and could otherwise rotate through
 * it), an IPv4-mapped IPv6 address as its IPv4 address.
 */
export function throttleSource(address: string | undefined): string {
  // fastify leaves `request.ip` undefined when the socket closed before the request was read.
  if (address === undefined) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  const withoutZone = address.split('%')[0] as string;
  if (isIPv4(withoutZone) || !isIPv6(withoutZone)) return address;
  return `${ipv6Groups(withoutZone).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lower-case hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const gap = address.indexOf('::');
  const groups =
    gap < 0
      ? groupsOf(address)
      : expandGap(groupsOf(address.slice(0, gap)), groupsOf(address.slice(gap + 2)));
  return groups.map((group) => parseInt(group, 16).toString(16));
}

/** The groups written in part of an address; an embedded IPv4 address (`::ffff:1.2.3.4`) is two. */
function groupsOf(part: string): string[] {
  if (part === '') return [];
  return part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group]));
}

/** What `::` stands for: as many zero groups as make eight. */
function expandGap(head: string[], tail: string[]): string[] {
  return [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
}
