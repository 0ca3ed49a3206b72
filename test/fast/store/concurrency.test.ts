import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { JsonStore } from '../../../src/store/json-store.js';
import { silentLogger } from '../../../src/util/logger.js';

const tmp = () => fs.mkdtemp(path.join(os.tmpdir(), 'bosun-store-'));
/** About 8 MB of JSON: a write that takes long enough for a later one to overtake it. */
const big = (tag: string) => ({ tag, pad: 'x'.repeat(8_000_000) });

afterEach(() => {
  jest.restoreAllMocks();
});

describe('store/json-store concurrent writes', () => {
  it('400 overlapping writes of one key, in pairs, all succeed; the last one is on disk', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    for (let i = 0; i < 200; i++) {
      await Promise.all([store.write('target', { i, of: 'a' }), store.write('target', { i, of: 'b' })]);
    }
    expect(await store.read('target')).toEqual({ i: 199, of: 'b' });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('writes of one key land in call order, even when a later one is much quicker', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await Promise.all([store.write('target', big('first')), store.write('target', { tag: 'second' })]);
    expect(await store.read('target')).toEqual({ tag: 'second' });

    await Promise.all(Array.from({ length: 100 }, (_, i) => store.write('target', { i })));
    expect(await store.read('target')).toEqual({ i: 99 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('a read called after a write, without waiting for it, sees that write', async () => {
    const store = new JsonStore(await tmp());
    void store.write('target', { a: 1 });
    expect(await store.read('target')).toEqual({ a: 1 });
  });

  it('writes of different keys overlap and each key ends with its own last write', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    const keys = Array.from({ length: 20 }, (_, k) => `doc-${k}`);
    await Promise.all(
      keys.flatMap((key) => Array.from({ length: 10 }, (_, i) => store.write(key, { key, i }))),
    );
    for (const key of keys) expect(await store.read(key)).toEqual({ key, i: 9 });
    expect((await fs.readdir(dir)).sort()).toEqual(keys.map((key) => `${key}.json`).sort());
  });
});

describe('store/json-store writeCache', () => {
  it('replaces the document the same way, without an fsync of the file or the directory', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    const probe = await fs.open(path.join(dir, 'probe'), 'w');
    const sync = jest.spyOn(Object.getPrototypeOf(probe) as { sync(): Promise<void> }, 'sync');
    await probe.close();
    await fs.rm(path.join(dir, 'probe'));

    await store.writeCache('report', { n: 1 });
    await store.writeCache('report', { n: 2 });
    expect(sync).not.toHaveBeenCalled();
    expect(await store.read('report')).toEqual({ n: 2 });
    expect(await fs.readdir(dir)).toEqual(['report.json']);
    // The durable write still syncs both: the file and the directory.
    await store.write('history', { n: 1 });
    expect(sync).toHaveBeenCalledTimes(2);
  });
});

describe('store/json-store crashes and failures', () => {
  it('makes its directory on the first write, and again when it was removed since', async () => {
    const dir = path.join(await tmp(), 'nested', 'store');
    const store = new JsonStore(dir);
    await store.write('target', { n: 1 });
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    await fs.rm(path.join(dir, '..'), { recursive: true });
    await store.write('target', { n: 2 });
    expect(await store.read('target')).toEqual({ n: 2 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('a crash between write and rename: the old document is read and the temporary files are removed', async () => {
    const dir = await tmp();
    await new JsonStore(dir).write('target', { v: 'old' });
    await new JsonStore(dir).write('my.json.tmp-1', { v: 'a document, not a temporary file' });
    // What a crashed process (another pid, or the same pid in a new container) leaves behind.
    await fs.writeFile(path.join(dir, 'target.json.tmp-4242-deadbeef-0123456789ab'), '{"v":"new"}');
    await fs.writeFile(path.join(dir, 'target.json.tmp-1'), '{"v":"torn');
    await fs.writeFile(path.join(dir, 'identity.json.tmp-1-cafe-0000'), '{}');

    const store = new JsonStore(dir, silentLogger());
    expect(await store.read('target')).toEqual({ v: 'old' });
    expect((await fs.readdir(dir)).sort()).toEqual(['my.json.tmp-1.json', 'target.json']);
    expect(await store.read('my.json.tmp-1')).toEqual({ v: 'a document, not a temporary file' });
  });

  it('a second store on the directory never removes a write in flight of this process', async () => {
    const dir = await tmp();
    const writer = new JsonStore(dir);
    let finished = false;
    const writing = writer.write('target', big('slow')).finally(() => {
      finished = true;
    });
    let opened = 0;
    while (!finished) {
      await new JsonStore(dir).read('other');
      opened++;
    }
    await expect(writing).resolves.toBeUndefined();
    expect(opened).toBeGreaterThan(0);
    expect(((await writer.read('target')) as { tag: string }).tag).toBe('slow');
  });

  it('a write that fails rejects to its caller, leaves no temporary file, and the next one still runs', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await store.write('target', { v: 0 });
    jest
      .spyOn(fs, 'rename')
      .mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' }));
    const [first, second] = await Promise.allSettled([
      store.write('target', { v: 1 }),
      store.write('target', { v: 2 }),
    ]);
    expect(first).toEqual({ status: 'rejected', reason: expect.objectContaining({ code: 'EIO' }) });
    expect(second).toEqual({ status: 'fulfilled', value: undefined });
    expect(await store.read('target')).toEqual({ v: 2 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('a write the file system refuses (the document is a directory) leaves no trace; later writes work', async () => {
    const dir = await tmp();
    const store = new JsonStore(dir);
    await fs.mkdir(path.join(dir, 'target.json'));
    await expect(store.write('target', { v: 1 })).rejects.toMatchObject({ code: expect.any(String) });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
    await fs.rmdir(path.join(dir, 'target.json'));
    await store.write('target', { v: 2 });
    expect(await store.read('target')).toEqual({ v: 2 });
    expect(await fs.readdir(dir)).toEqual(['target.json']);
  });

  it('a value that cannot be serialised does not hold up the writes called after it', async () => {
    const store = new JsonStore(await tmp());
    const [bad, good] = await Promise.allSettled([
      store.write('target', { n: 1n }),
      store.write('target', { v: 1 }),
    ]);
    expect(bad).toEqual({ status: 'rejected', reason: expect.any(TypeError) });
    expect(good.status).toBe('fulfilled');
    expect(await store.read('target')).toEqual({ v: 1 });
  });
});
