import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { JsonStore } from '../../../src/store/json-store.js';
import { PersistedSet } from '../../../src/store/persisted-set.js';
import { silentLogger } from '../../../src/util/logger.js';

const tmpStore = async () =>
  new JsonStore(await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-set-')), silentLogger());

describe('store/PersistedSet', () => {
  it('writes every change through, so a new instance on the same store sees it', async () => {
    const store = await tmpStore();
    const set = await new PersistedSet(store, 'things').load();
    // Not awaited one by one: the writes must still land in order.
    await Promise.all([set.add('b'), set.add('a'), set.add('c'), set.delete('b')]);
    expect([...set.view].sort()).toEqual(['a', 'c']);
    expect([...(await new PersistedSet(store, 'things').load()).view]).toEqual(['a', 'c']);

    await set.retain((item) => item !== 'a');
    const reloaded = await new PersistedSet(store, 'things').load();
    expect(reloaded.has('a')).toBe(false);
    expect(reloaded.has('c')).toBe(true);
  });

  it('starts empty on a missing document, and on a corrupt one (moved aside by the store)', async () => {
    const store = await tmpStore();
    expect([...(await new PersistedSet(store, 'things').load()).view]).toEqual([]);
    await fs.writeFile(path.join(store.dir, 'things.json'), '{"items": ["a", tru');
    expect([...(await new PersistedSet(store, 'things').load()).view]).toEqual([]);
    const files = await fs.readdir(store.dir);
    expect(files.some((f) => f.startsWith('things.json.corrupt-'))).toBe(true);
  });

  it('ignores what is not a string in a stored document', async () => {
    const store = await tmpStore();
    await store.write('things', { items: ['a', 3, null, 'b'] });
    expect([...(await new PersistedSet(store, 'things').load()).view]).toEqual(['a', 'b']);
  });

  it('forgets what was stored under another epoch (another boot)', async () => {
    const store = await tmpStore();
    await (await new PersistedSet(store, 'things', 'boot-1').load()).add('a');
    expect([...(await new PersistedSet(store, 'things', 'boot-1').load()).view]).toEqual(['a']);
    const nextBoot = await new PersistedSet(store, 'things', 'boot-2').load();
    expect([...nextBoot.view]).toEqual([]);
    await nextBoot.add('b');
    expect([...(await new PersistedSet(store, 'things', 'boot-2').load()).view]).toEqual(['b']);
  });
});
