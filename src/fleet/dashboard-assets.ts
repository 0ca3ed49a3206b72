import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../util/package-root.js';

/** One file of the dashboard, read once at start (they are a few small files). */
export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Where the dashboard's files are: the package ships them in src/fleet/dashboard, and the build
 * copies them to dist/dashboard. Code running from dist (tsc's output or the bundle) serves the
 * built copy; code running from src (ts-jest, tsx) serves the sources. Found from the package
 * root: a bundle chunk's own directory says nothing about where the assets are.
 */
export function dashboardDirectory(moduleUrl: string = import.meta.url): string | undefined {
  const root = packageRoot(moduleUrl);
  if (root === undefined) return undefined;
  const fromDist = fileURLToPath(moduleUrl).startsWith(path.join(root, 'dist') + path.sep);
  return fromDist ? path.join(root, 'dist', 'dashboard') : path.join(root, 'src', 'fleet', 'dashboard');
}

/**
 * The dashboard's files by name (a flat directory; other entries are ignored). Empty when the
 * directory is missing: the backend still serves devices, and `/` says what is wrong.
 */
export function loadDashboardAssets(directory: string | undefined): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>();
  if (directory === undefined || !existsSync(directory)) return assets;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || contentType === undefined) continue;
    const body = readFileSync(path.join(directory, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    assets.set(entry.name, { body, contentType, etag });
  }
  return assets;
}
