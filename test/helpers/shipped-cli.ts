import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The `bosun` executable exactly as `npm run build` ships it (package.json's bin: the esbuild
 * bundle), so the tests that run bosun as a process test what a device runs.
 */
export const SHIPPED_CLI = new URL(
  (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { bin: { bosun: string } }).bin.bosun,
  `file://${ROOT}`,
).pathname;

/** Fails clearly when the build is missing (the test command builds first). */
export function requireShippedCli(): string {
  if (!existsSync(SHIPPED_CLI)) throw new Error(`${SHIPPED_CLI} is missing: run npm run build first`);
  return SHIPPED_CLI;
}

/**
 * A file of the plain tsc build (`dist/<relative>`), e.g. a worker a test forks; fails clearly
 * when the build is missing.
 */
export function requireBuilt(relative: string): string {
  const file = `${ROOT}dist/${relative}`;
  if (!existsSync(file)) throw new Error(`${file} is missing: run npm run build first`);
  return file;
}
