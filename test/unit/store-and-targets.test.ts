import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { TargetKeeper } from '../../src/agent/targets.js';
import { JsonStore } from '../../src/store/json-store.js';
import type { TargetState } from '../../src/target/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { deviceObject } from '../helpers/agent.js';

const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'bosun-store-'));
const device = (release: string) =>
  deviceObject({
    appUuid: 'app1',
    appId: 1,
    releaseUuid: release,
    releaseId: 1,
    services: { main: { image: 'reg/x:1' } },
  });

function keeper(store: JsonStore) {
  const accepted: TargetState[] = [];
  const rejected: string[] = [];
  const k = new TargetKeeper({
    uuid: 'dev1',
    store,
    log: silentLogger(),
    onAccepted: (t) => accepted.push(t),
    onRejected: (r) => rejected.push(r),
  });
  return { k, accepted, rejected };
}

describe('store/json-store', () => {
  it('round-trips documents and leaves no temporary files', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await store.write('target', { a: 1 });
    expect(await store.read('target')).toEqual({ a: 1 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
    expect((await fs.stat(path.join(dir, 'target.json'))).mode & 0o777).toBe(0o600);
  });

  it('moves a document that fails to parse aside and reads nothing', async () => {
    const dir = await tmp();
    await fs.writeFile(path.join(dir, 'target.json'), '{"truncated": ');
    const store = new JsonStore(dir);
    expect(await store.read('target')).toBeUndefined();
    const names = await fs.readdir(dir);
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^target\.json\.corrupt-\d+$/);
  });
});

describe('agent/targets TargetKeeper', () => {
  it('accepts a cloud document, persists it, and a new keeper loads it back', async () => {
    const store = new JsonStore(await tmp());
    const first = keeper(store);
    expect(await first.k.offerCloudDocument({ dev1: device('r1') })).toEqual({ accepted: true });
    const second = keeper(store);
    await second.k.load({ localMode: false });
    expect(second.accepted.map((t) => Object.values(t.apps)[0]!.release!.uuid)).toEqual(['r1']);
  });

  it('rejects a document for another uuid whole, keeps the accepted target, and names the release', async () => {
    const store = new JsonStore(await tmp());
    const { k, accepted } = keeper(store);
    await k.offerCloudDocument({ dev1: device('r1') });
    const verdict = await k.offerCloudDocument({ dev1: { ...device('r2'), apps: 'nope' } });
    expect(verdict.accepted).toBe(false);
    expect(k.targetError).toMatch(/apps/);
    expect(accepted).toHaveLength(1);
    expect(Object.values(k.target!.apps)[0]!.release!.uuid).toBe('r1');
    const other = await k.offerCloudDocument({ someoneElse: device('r3') });
    expect(other.reason).toMatch(/dev1/);
    expect(k.rejectedReleases).toEqual({});
  });

  it('reports the release of a rejected document as rejected when it can be read', async () => {
    const { k } = keeper(new JsonStore(await tmp()));
    const bad = device('r9') as { apps: Record<string, { releases: Record<string, { services: object }> }> };
    bad.apps.app1!.releases.r9!.services = { main: { image: 42 } };
    await k.offerCloudDocument({ dev1: bad });
    expect(k.rejectedReleases).toEqual({ app1: 'r9' });
  });

  it('in local mode an edited preload file wins over the stored target; an unchanged one does not', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    const file = path.join(dir, 'preload.json');
    await fs.writeFile(file, JSON.stringify(device('file1')));
    const a = keeper(store);
    await a.k.load({ localMode: true, preloadFile: file });
    expect(a.k.source).toBe('file');
    await a.k.offerLocal(device('posted'));

    const b = keeper(store);
    await b.k.load({ localMode: true, preloadFile: file });
    expect(Object.values(b.k.target!.apps)[0]!.release!.uuid).toBe('posted');

    await fs.writeFile(file, JSON.stringify(device('file2')));
    const c = keeper(store);
    await c.k.load({ localMode: true, preloadFile: file });
    expect(Object.values(c.k.target!.apps)[0]!.release!.uuid).toBe('file2');
  });

  it('in managed mode the preload file is used only while nothing is stored', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    const file = path.join(dir, 'preload.json');
    await fs.writeFile(file, JSON.stringify({ dev1: device('file1') }));
    const a = keeper(store);
    await a.k.offerCloudDocument({ dev1: device('cloud1') });
    await a.k.load({ localMode: false, preloadFile: file });
    expect(Object.values(a.k.target!.apps)[0]!.release!.uuid).toBe('cloud1');
  });
});
