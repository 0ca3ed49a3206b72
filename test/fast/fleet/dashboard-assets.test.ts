import { describe, expect, it } from '@jest/globals';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { dashboardDirectory, loadDashboardAssets } from '../../../src/fleet/dashboard-assets.js';

const root = process.cwd();
const urlOf = (...parts: string[]) => pathToFileURL(path.join(root, ...parts)).href;

describe('fleet/dashboard-assets', () => {
  it('finds the files from the package root: the built copy from dist (tsc or a bundle chunk), else the sources', () => {
    expect(dashboardDirectory(urlOf('dist', 'bundle', 'chunks', 'server-ABC.js'))).toBe(
      path.join(root, 'dist', 'dashboard'),
    );
    expect(dashboardDirectory(urlOf('dist', 'src', 'fleet', 'dashboard-assets.js'))).toBe(
      path.join(root, 'dist', 'dashboard'),
    );
    expect(dashboardDirectory(urlOf('src', 'fleet', 'dashboard-assets.ts'))).toBe(
      path.join(root, 'src', 'fleet', 'dashboard'),
    );
  });

  it('reads the page, its scripts and styles with their types, and nothing when the directory is missing', () => {
    const assets = loadDashboardAssets(path.join(root, 'src', 'fleet', 'dashboard'));
    expect(assets.get('index.html')?.contentType).toMatch(/^text\/html/);
    expect(assets.get('main.js')?.contentType).toMatch(/^text\/javascript/);
    expect(assets.get('dashboard.css')?.contentType).toMatch(/^text\/css/);
    expect(loadDashboardAssets(path.join(root, 'no-such-directory')).size).toBe(0);
  });
});
