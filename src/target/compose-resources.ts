/**
 * Resource limits of a composition: memory, CPU, shared memory, tmpfs mounts and the read-only
 * root. Sizes are bytes (`512m`, `1g` parsed by compose-values.ts), as the engine takes them.
 */
import { fail, join } from './fields.js';
import { integerIn, parseByteSize, stringOrList } from './compose-values.js';

/** `memswap_limit`: a size, or -1 for unlimited swap. */
export function parseMemswapLimit(value: unknown, path: string): number {
  if (value === -1 || value === '-1') return -1;
  return parseByteSize(value, path);
}

/** `cpu_shares`: a relative weight; Docker takes 2 to 262144 (0 means its default, 1024). */
export function parseCpuShares(value: unknown, path: string): number {
  return integerIn(value, path, 0, 262_144);
}

/** `cpu_quota`: microseconds per 100 ms period; the kernel's minimum is 1000, -1 means none. */
export function parseCpuQuota(value: unknown, path: string): number {
  const quota = integerIn(value, path, -1, 1_000_000_000);
  if (quota >= 0 && quota < 1000) fail(path, 'at least 1000 microseconds, or -1 for no quota', value);
  return quota;
}

/** `cpuset`: CPU numbers and ranges, such as `0-3` or `0,2`. */
export function parseCpuset(value: unknown, path: string): string {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(text.replace(/\s/g, ''))) {
    return fail(path, 'CPUs such as "0-3" or "0,1"', value);
  }
  return text.replace(/\s/g, '');
}

export function parseOomScoreAdj(value: unknown, path: string): number {
  return integerIn(value, path, -1000, 1000);
}

/**
 * `tmpfs`: a path or a list of paths, each optionally with mount options (`/run:rw,size=64m`).
 * Keyed by path, so the same path twice is caught.
 */
export function parseTmpfs(value: unknown, path: string): Record<string, string> {
  const entries = stringOrList(value, path);
  const out: Record<string, string> = {};
  entries.forEach((entry, i) => {
    const at = Array.isArray(value) ? join(path, i) : path;
    const cut = entry.indexOf(':');
    const target = cut < 0 ? entry : entry.slice(0, cut);
    const options = cut < 0 ? '' : entry.slice(cut + 1);
    if (!target.startsWith('/') || /\s/.test(target))
      fail(at, 'an absolute container path, such as "/run"', entry);
    if (Object.hasOwn(out, target)) fail(at, `a path not already in tmpfs (${target} is)`, entry);
    if (!/^[A-Za-z0-9_=,.+-]*$/.test(options)) fail(at, 'mount options such as "rw,size=64m"', entry);
    out[target] = options;
  });
  return out;
}
