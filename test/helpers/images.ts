/**
 * Images the integration tests run: the sample images every test shares (never removed), fresh
 * per-run images that only the registry has, and one big image whose pull takes long enough to
 * change the target while it is in flight.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unique } from './wait.js';
import { REGISTRY, buildImage, removeLocalImage } from './docker.js';

export const DEMO_1 = `${REGISTRY}/bosun/demo:1`;
export const DEMO_2 = `${REGISTRY}/bosun/demo:2`;
export const LOCKER_1 = `${REGISTRY}/bosun/locker:1`;
export const LOCKER_2 = `${REGISTRY}/bosun/locker:2`;

/** About a second to pull from the local registry: long enough to change the target mid-pull. */
export const BIG_IMAGE = `${REGISTRY}/bosun-test/big:40mb`;
const BIG_IMAGE_BYTES = 40_000_000;

/** Whether the local registry has a manifest for `repo:tag` (a repository path without the registry). */
export async function registryHas(repo: string, tag: string): Promise<boolean> {
  const manifest = await fetch(`http://${REGISTRY}/v2/${repo}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  return manifest.status === 200;
}

/**
 * Builds and pushes the big image once per registry (it never changes), and drops the local
 * copy, so the next pull really downloads 40 MB.
 */
export async function ensureBigImageInRegistry(): Promise<void> {
  if (!(await registryHas('bosun-test/big', '40mb'))) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-big-'));
    try {
      // Random bytes do not compress: the layer really is 40 MB on the wire.
      const payload = path.join(dir, 'payload');
      await fs.writeFile(payload, randomBytes(BIG_IMAGE_BYTES));
      await buildImage(BIG_IMAGE, 'big', payload);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  await removeLocalImage(BIG_IMAGE);
}

/**
 * A new image for this run only (`<registry>/bosun-test/<name>:<unique tag>`), pushed and then
 * removed locally, so an update to it really pulls. Tests may delete it; nobody else uses it.
 */
export async function freshImage(name: string): Promise<string> {
  const ref = `${REGISTRY}/bosun-test/${name}:${unique('t').toLowerCase()}`;
  await buildImage(ref, ref);
  await removeLocalImage(ref);
  return ref;
}
