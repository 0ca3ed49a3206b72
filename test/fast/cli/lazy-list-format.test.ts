/**
 * The bundle's stand-in for `Intl.ListFormat` (scripts/build/lazy-list-format.ts): every output
 * file defines it from its banner, and the bundle's `define` sends every `Intl.ListFormat` to it,
 * so got's type checker no longer builds two ICU list formatters at import (issue #15). Tested here
 * as the banner ships it; that the built bundle builds none at import is checked against the build
 * (test/engine/cli/bundle.test.ts).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { bundleOptions } from '../../../scripts/build/bundle-options.js';
import { LAZY_LIST_FORMAT, lazyListFormatBanner } from '../../../scripts/build/lazy-list-format.js';

const RealListFormat = Intl.ListFormat;
/** Intl's members are read-only to TypeScript, not to JavaScript. */
const writableIntl = Intl as { ListFormat: typeof Intl.ListFormat };
afterEach(() => {
  writableIntl.ListFormat = RealListFormat;
});

/** The class the banner line defines, evaluated as an output file would. */
function bannerClass(): typeof Intl.ListFormat {
  return new Function(`${lazyListFormatBanner()}\nreturn ${LAZY_LIST_FORMAT};`)() as typeof Intl.ListFormat;
}

/** Counts the real formatters built from now on. */
function countRealFormatters(): { built: number } {
  const count = { built: 0 };
  writableIntl.ListFormat = new Proxy(RealListFormat, {
    construct(target, args: ConstructorParameters<typeof Intl.ListFormat>) {
      count.built += 1;
      return new target(...args);
    },
  });
  return count;
}

describe('the bundle: Intl.ListFormat built on first use', () => {
  it('is what the define sends Intl.ListFormat to, and what the banner defines', () => {
    const options = bundleOptions('/nowhere');
    expect(options.define).toMatchObject({ 'Intl.ListFormat': LAZY_LIST_FORMAT });
    expect(options.banner?.js).toContain(lazyListFormatBanner());
  });

  it('builds no real formatter until a list is formatted, then one, once', () => {
    const LazyListFormat = bannerClass();
    const count = countRealFormatters();
    const and = new LazyListFormat('en', { style: 'long', type: 'conjunction' });
    const or = new LazyListFormat('en', { style: 'long', type: 'disjunction' });
    expect(count.built).toBe(0);
    expect(and.format(['a', 'b', 'c'])).toBe('a, b, and c');
    expect(and.format(['x', 'y'])).toBe('x and y');
    expect(count.built).toBe(1);
    expect(or.format(['a', 'b'])).toBe('a or b');
    expect(count.built).toBe(2);
  });

  it.each([
    ['en', { style: 'long', type: 'conjunction' }],
    ['en', { style: 'long', type: 'disjunction' }],
    ['de', { style: 'short', type: 'unit' }],
    [undefined, undefined],
  ] as const)('words lists exactly as Intl.ListFormat(%j, %j) does', (locale, options) => {
    const LazyListFormat = bannerClass();
    const lazy = new LazyListFormat(locale, options);
    const real = new RealListFormat(locale, options);
    for (const list of [[], ['one'], ['one', 'two'], ['one', 'two', 'three', 'four']]) {
      expect(lazy.format(list)).toBe(real.format(list));
      expect(lazy.formatToParts(list)).toEqual(real.formatToParts(list));
    }
    expect(lazy.resolvedOptions()).toEqual(real.resolvedOptions());
    expect(LazyListFormat.supportedLocalesOf(['en', 'de', 'xx'])).toEqual(
      RealListFormat.supportedLocalesOf(['en', 'de', 'xx']),
    );
  });

  it('rejects bad options when a list is formatted, as Intl.ListFormat does when built', () => {
    const LazyListFormat = bannerClass();
    const bad = new LazyListFormat('en', { type: 'bogus' as Intl.ListFormatType });
    expect(() => bad.format(['a'])).toThrow(RangeError);
  });
});
