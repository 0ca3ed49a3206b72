import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { TargetKeeper } from '../../../src/agent/target-keeper.js';
import { JsonStore } from '../../../src/store/json-store.js';
import type { TargetState } from '../../../src/target/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { deviceObject } from '../../helpers/targets.js';

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

/** A store whose writes fail (a full disk, a read-only data dir) while reads work. */
class FailingWrites extends JsonStore {
  failing = true;
  override async write(name: string, value: unknown, mode?: number): Promise<void> {
    if (this.failing) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    return super.write(name, value, mode);
  }
}

/** `[[[...]]]` `depth` arrays deep, built without recursion. */
function nestedArrays(depth: number): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

describe('agent/targets TargetKeeper persists before it accepts (#9)', () => {
  const first = (k: TargetKeeper) => Object.values(k.target!.apps)[0]!.release!.uuid;

  it('rejects a target with a 200,000-deep value under an ignored key; the stored one survives a restart', async () => {
    const store = new JsonStore(await tmp());
    const a = keeper(store);
    await a.k.offerCloudDocument({ dev1: device('r1') });
    const hostile = { ...device('r2'), junk: nestedArrays(200_000) };
    const verdict = await a.k.offerCloudDocument({ dev1: hostile });
    expect(verdict.accepted).toBe(false);
    expect(a.k.targetError).toMatch(/nested deeper than 64 levels/);
    expect(a.accepted).toHaveLength(1);
    expect(first(a.k)).toBe('r1');

    const local = await a.k.offerLocal(hostile);
    expect(local.accepted).toBe(false);
    expect(a.accepted).toHaveLength(1);

    const b = keeper(store);
    await b.k.load({ localMode: false });
    expect(first(b.k)).toBe('r1');
  });

  it.each([
    ['the cloud', (k: TargetKeeper, d: unknown) => k.offerCloudDocument({ dev1: d })],
    ['the local API', (k: TargetKeeper, d: unknown) => k.offerLocal(d)],
  ])(
    'a target from %s that cannot be stored is rejected with the reason, and nothing changes',
    async (_, offer) => {
      const store = new FailingWrites(await tmp());
      store.failing = false;
      const a = keeper(store);
      await offer(a.k, device('r1'));
      store.failing = true;
      const verdict = await offer(a.k, device('r2'));
      expect(verdict).toEqual({ accepted: false, reason: expect.stringMatching(/cannot be stored.*ENOSPC/) });
      expect(a.k.targetError).toMatch(/ENOSPC/);
      expect(a.rejected).toHaveLength(1);
      expect(a.accepted).toHaveLength(1);
      expect(first(a.k)).toBe('r1');

      store.failing = false;
      const b = keeper(store);
      await b.k.load({ localMode: false });
      expect(first(b.k)).toBe('r1');
    },
  );

  it('a preload file that cannot be stored is not applied; the stored target is', async () => {
    const dir = await tmp();
    const store = new FailingWrites(dir);
    store.failing = false;
    await keeper(store).k.offerLocal(device('stored'));
    const file = path.join(dir, 'preload.json');
    await fs.writeFile(file, JSON.stringify(device('file1')));
    store.failing = true;
    const a = keeper(store);
    await a.k.load({ localMode: true, preloadFile: file });
    expect(a.rejected[0]).toMatch(/ENOSPC/);
    expect(a.accepted.map((t) => Object.values(t.apps)[0]!.release!.uuid)).toEqual(['stored']);
  });

  it('a preload file with a 200,000-deep value is rejected, not applied', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'preload.json');
    await fs.writeFile(file, `{"junk":${'['.repeat(200_000)}${']'.repeat(200_000)},"apps":{}}`);
    const a = keeper(new JsonStore(dir));
    await a.k.load({ localMode: true, preloadFile: file });
    expect(a.accepted).toEqual([]);
    expect(a.rejected[0]).toMatch(/nested deeper/);
  });

  it('handles overlapping offers in the order they came: the last one is stored and applied', async () => {
    const store = new JsonStore(await tmp());
    const a = keeper(store);
    const verdicts = await Promise.all([
      a.k.offerLocal(device('r1')),
      a.k.offerCloudDocument({ dev1: device('r2') }),
      a.k.offerLocal(device('r3')),
    ]);
    expect(verdicts.map((v) => v.accepted)).toEqual([true, true, true]);
    expect(a.accepted.map((t) => Object.values(t.apps)[0]!.release!.uuid)).toEqual(['r1', 'r2', 'r3']);
    const b = keeper(store);
    await b.k.load({ localMode: false });
    expect(first(b.k)).toBe('r3');
  });
});

describe('store/json-store write failures', () => {
  it('a value that cannot be serialised leaves the stored document and no temporary file', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await store.write('target', { a: 1 });
    await expect(store.write('target', { n: 1n })).rejects.toThrow(TypeError);
    expect(await store.read('target')).toEqual({ a: 1 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('lists the copies read moved aside, newest first', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await fs.writeFile(path.join(dir, 'identity.json.corrupt-100'), 'old');
    await fs.writeFile(path.join(dir, 'identity.json.corrupt-200'), 'new');
    await fs.writeFile(path.join(dir, 'target.json.corrupt-300'), 'other');
    expect(await store.corruptCopies('identity')).toEqual([
      { file: path.join(dir, 'identity.json.corrupt-200'), text: 'new' },
      { file: path.join(dir, 'identity.json.corrupt-100'), text: 'old' },
    ]);
    expect(await new JsonStore(path.join(dir, 'absent')).corruptCopies('identity')).toEqual([]);
  });
});
