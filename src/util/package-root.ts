import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root of a module: the nearest directory above it with a package.json. A module
 * runs from src/ (ts-jest), dist/src/ (tsc) or a chunk under dist/bundle/ (the bundle), so
 * files the package ships are found from here, never from the module's own directory.
 * Undefined when there is none.
 */
export function packageRoot(moduleUrl: string): string | undefined {
  let dir = path.dirname(fileURLToPath(moduleUrl));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
