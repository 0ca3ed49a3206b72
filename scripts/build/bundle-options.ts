/**
 * The esbuild options of the shipped bundle, shared by the build (scripts/build/bundle.ts) and by
 * the idle benchmark, which bundles its library-floor program exactly the same way so the two
 * are measured on equal terms.
 *
 * What the bundle leaves out: the transports and build features bosun never uses, which
 * dockerode, docker-modem and got load at require time. ssh2 (for `ssh://` engines; its
 * WebAssembly poly1305 alone reserves 16 MB), gRPC/protobuf (BuildKit sessions and BuildKit
 * progress decoding) and http2-wrapper (got's HTTP/2, which also loads `node:http2`) become empty
 * modules. bosun reaches the engine over a unix socket or TCP only, and an `ssh://` DOCKER_HOST is
 * refused when the configuration is read (src/config/schema.ts); it speaks HTTP/1.1 to the cloud,
 * and an eslint rule stops any code setting got's `http2` option. So nothing in the bundle ever
 * calls into them. No dependency's file is changed and nothing hooks `require` at run time: the
 * bundler simply resolves those package names to an empty module.
 *
 * `Intl.ListFormat` is built on first use (lazy-list-format.ts): got's type checker builds two at
 * import, which pages in 5-6 MB of ICU data.
 *
 * Whitespace and syntax are minified (identifiers are kept, so stack traces and class names in
 * logs stay readable; the linked source map leads back to the sources): V8 keeps every loaded
 * file's source text on the heap, and the minified text is a third smaller.
 */
import type { BuildOptions, Plugin } from 'esbuild';
import { LAZY_LIST_FORMAT, lazyListFormatBanner } from './lazy-list-format.js';

/** Packages resolved to an empty module, with what they are for. */
export const LEFT_OUT: Record<string, string> = {
  ssh2: 'docker-modem: ssh:// engines',
  '@grpc/grpc-js': 'dockerode: BuildKit sessions',
  '@grpc/proto-loader': 'dockerode: BuildKit sessions',
  protobufjs: 'dockerode: BuildKit sessions and progress decoding',
  'http2-wrapper': 'got: HTTP/2 (bosun never sets its http2 option; eslint keeps it so)',
};

/** Native addons: loaded by Node from node_modules at run time. */
const EXTERNAL = ['better-sqlite3'];

const LEFT_OUT_NAMESPACE = 'bosun-left-out';

function leaveOut(packages: string[]): Plugin {
  const escaped = packages.map((name) => name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
  const filter = new RegExp(`^(${escaped.join('|')})(/.*)?$`);
  return {
    name: 'bosun-leave-out',
    setup(b) {
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: LEFT_OUT_NAMESPACE }));
      b.onLoad({ filter: /.*/, namespace: LEFT_OUT_NAMESPACE }, (args) => ({
        contents: `// ${args.path}: left out of the bosun bundle (scripts/build/bundle-options.ts)\nmodule.exports = {};\n`,
        loader: 'js',
      }));
    },
  };
}

/**
 * CommonJS dependencies call `require` for Node's built-in modules, and a few read `__dirname`;
 * an ES module has neither, so each output file defines them for itself. Each also defines the
 * lazy stand-in for `Intl.ListFormat` (lazy-list-format.ts): in its own banner, because a
 * file's imports run before its body, so a definition in the entry alone would come too late.
 */
const BANNER = [
  "import { createRequire as __bosunCreateRequire } from 'node:module';",
  "import { fileURLToPath as __bosunFileURLToPath } from 'node:url';",
  "import { dirname as __bosunDirname } from 'node:path';",
  'const require = __bosunCreateRequire(import.meta.url);',
  'const __filename = __bosunFileURLToPath(import.meta.url);',
  'const __dirname = __bosunDirname(__filename);',
  lazyListFormatBanner(),
].join('\n');

/** Everything but the entry points and where the output goes. */
export function bundleOptions(root: string): BuildOptions {
  return {
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [leaveOut(Object.keys(LEFT_OUT))],
    banner: { js: BANNER },
    define: { 'Intl.ListFormat': LAZY_LIST_FORMAT },
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
  };
}

/** The inputs of a build that come from a left-out package (there must be none). */
export function leftOutInputs(inputs: string[]): string[] {
  return inputs.filter((input) =>
    Object.keys(LEFT_OUT).some((name) => input.includes(`node_modules/${name}/`)),
  );
}
