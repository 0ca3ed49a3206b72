/**
 * A stand-in for `Intl.ListFormat` in the shipped bundle, which builds the real formatter the
 * first time a list is formatted, with the same arguments: every list is worded exactly as before.
 *
 * Why: got's type checker (@sindresorhus/is) builds two list formatters when it is imported, for
 * the wording of its assertion errors. Building one makes V8 ask ICU which of its locales have list
 * patterns, which pages in about 5-6 MB of ICU data from the node binary: the largest single part
 * of an idle agent's memory, for messages an agent that is working never prints (issue #15).
 *
 * How: the bundle's `define` turns every `Intl.ListFormat` in the bundled code (dependencies and
 * bosun alike; no file is edited) into this class, which each output file defines in its banner
 * from this class's own source (bundle-options.ts). So the class must be self-contained: it reaches
 * the real formatter through `globalThis`, which the define leaves alone. (esbuild's `inject`, the
 * usual partner of `define`, would add an init call to every module of the bundle here, because
 * CommonJS modules import the injected file too.)
 *
 * One difference, which no caller in the bundle meets: bad options throw their RangeError when the
 * first list is formatted, not when the formatter is built.
 */
import { transformSync } from 'esbuild';

type ListFormatArgs = ConstructorParameters<typeof Intl.ListFormat>;

export class LazyListFormat {
  readonly #args: ListFormatArgs;
  #real: Intl.ListFormat | undefined;

  constructor(...args: ListFormatArgs) {
    this.#args = args;
  }

  static supportedLocalesOf(
    ...args: Parameters<typeof Intl.ListFormat.supportedLocalesOf>
  ): ReturnType<typeof Intl.ListFormat.supportedLocalesOf> {
    return globalThis.Intl.ListFormat.supportedLocalesOf(...args);
  }

  format(list: Iterable<string>): string {
    return this.#formatter().format(list);
  }

  formatToParts(list: Iterable<string>): ReturnType<Intl.ListFormat['formatToParts']> {
    return this.#formatter().formatToParts(list);
  }

  resolvedOptions(): Intl.ResolvedListFormatOptions {
    return this.#formatter().resolvedOptions();
  }

  #formatter(): Intl.ListFormat {
    this.#real ??= new globalThis.Intl.ListFormat(...this.#args);
    return this.#real;
  }
}

/** The name the bundle's code uses for the stand-in. */
export const LAZY_LIST_FORMAT = '__bosunLazyListFormat';

/**
 * The banner line defining the stand-in in an output file: the class's source, minified like the
 * bundle (whitespace and syntax, names kept), since every output file carries it.
 */
export function lazyListFormatBanner(): string {
  return transformSync(`const ${LAZY_LIST_FORMAT} = ${LazyListFormat.toString()};`, {
    minifyWhitespace: true,
    minifySyntax: true,
  }).code.trim();
}
