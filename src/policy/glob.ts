/**
 * Glob patterns of the device policy (contract section 11), for host device paths and image
 * references: `*` matches any run of characters but `/`, `**` any run including `/`, `?` one
 * character but `/`; everything else is literal. The whole string must match.
 *
 * Written here rather than taken from a package: the glob matchers in node_modules (picomatch,
 * minimatch) come in only as development dependencies of jest and eslint, and these three
 * wildcards are all a policy needs.
 */

/** A matcher for one pattern. */
export function globMatcher(pattern: string): (text: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') {
      source += '[^/]*';
    } else if (c === '?') {
      source += '[^/]';
    } else {
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  const regex = new RegExp(`^${source}$`, 's');
  return (text) => regex.test(text);
}

/** Whether `text` matches any of `patterns`. */
export function matchesAny(patterns: readonly string[], text: string): boolean {
  return patterns.some((pattern) => globMatcher(pattern)(text));
}
