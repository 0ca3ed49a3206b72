import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { FleetError } from '../../../src/fleet/errors.js';
import { parseLogBatch, type StoredLogInput } from '../../../src/fleet/log-batch.js';
import { FleetStore } from '../../../src/fleet/store.js';
import { FLEET_BACKENDS, TestDatabases } from '../../helpers/fleet-databases.js';

async function codeOf(action: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await action();
  } catch (err) {
    if (err instanceof FleetError) return err.code;
    throw err;
  }
  return undefined;
}

const line = (message: string, over: Partial<StoredLogInput> = {}): StoredLogInput => ({
  message,
  timestamp: 1_772_600_000_000,
  serviceName: 'main',
  isStderr: false,
  isSystem: false,
  ...over,
});

describe('fleet/log-batch', () => {
  it('reads NDJSON lines, ignoring empty lines and unknown fields', () => {
    const body = [
      '{"message":"a","timestamp":1772600000000.4,"serviceName":"main","isStderr":true,"extra":1}',
      '',
      '{"message":"update","timestamp":5,"isSystem":true}',
      '',
    ].join('\n');
    expect(parseLogBatch(body)).toEqual([
      { message: 'a', timestamp: 1_772_600_000_000, serviceName: 'main', isStderr: true, isSystem: false },
      { message: 'update', timestamp: 5, serviceName: null, isStderr: false, isSystem: true },
    ]);
  });

  const ok = '{"message":"ok","timestamp":1}';
  it.each([
    ['not JSON', `${ok}\n{"message":`, /^line 2: not JSON$/],
    ['an array', `${ok}\n[1]`, /^line 2: must be an object/],
    ['no message', '{"timestamp":1}', /^line 1: message must be a string/],
    ['no timestamp', '{"message":"a"}', /^line 1: timestamp/],
    ['a negative timestamp', '{"message":"a","timestamp":-1}', /timestamp/],
    ['a string flag', `${ok}\n\n{"message":"a","timestamp":1,"isStderr":"yes"}`, /^line 3: isStderr/],
    ['a numeric service', '{"message":"a","timestamp":1,"serviceName":3}', /serviceName/],
    ['nothing', '\n\n', /no log lines/],
  ])('refuses %s with a 400 naming the line', (_what, body, message) => {
    expect(() => parseLogBatch(body)).toThrow(message);
    expect(() => parseLogBatch(body)).toThrow(expect.objectContaining({ code: 'EFLEET_BAD_INPUT' }));
  });

  it('refuses a body that is not text, and too many lines with a 413', () => {
    expect(() => parseLogBatch({ message: 'a' })).toThrow(/NDJSON/);
    const many = Array.from({ length: 2001 }, () => '{"message":"a","timestamp":1}').join('\n');
    expect(() => parseLogBatch(many)).toThrow(expect.objectContaining({ code: 'EFLEET_TOO_LARGE' }));
  });

  it('replaces what no database can hold (NUL, lone surrogates)', () => {
    const [parsed] = parseLogBatch(JSON.stringify({ message: 'a\u0000b\ud800c😀', timestamp: 1 }));
    expect(parsed!.message).toBe('a\ufffdb\ufffdc😀');
  });
});

describe.each(FLEET_BACKENDS)('fleet/log-store on %s', (backend) => {
  const databases = new TestDatabases(backend);
  let store: FleetStore;

  afterEach(async () => {
    await store.close();
  });

  afterAll(async () => {
    await databases.dispose();
  });

  const open = async (logLinesPerDevice?: number) => {
    store = await FleetStore.open(await databases.fresh(), { logLinesPerDevice });
    const { provisioningKey } = await store.fleets.create('kitchen');
    for (const [uuid, key] of [
      ['abcd0001-device', 'device-key-1'],
      ['abcd0002-device', 'device-key-2'],
    ]) {
      await store.devices.register({ uuid: uuid!, fleet: 'kitchen', deviceApiKey: key! }, provisioningKey);
    }
  };

  it('appends batches with the device key and reads the newest lines oldest first, by service', async () => {
    await open();
    await store.logs.append('abcd0001-device', 'device-key-1', [
      line('one'),
      line('two', { isStderr: true, timestamp: 1_772_600_000_001 }),
      line('Updating app', { serviceName: null, isSystem: true }),
    ]);
    await store.logs.append('abcd0001-device', 'device-key-1', [line('four', { serviceName: 'helper' })]);
    await store.logs.append('abcd0002-device', 'device-key-2', [line('other device')]);
    const device = await store.logs.resolve('abcd0001-device');
    const all = await store.logs.tail(device, { limit: 100 });
    expect(all.map((l) => l.message)).toEqual(['one', 'two', 'Updating app', 'four']);
    expect(all[1]).toEqual({
      id: expect.any(Number),
      timestamp: 1_772_600_000_001,
      serviceName: 'main',
      isStderr: true,
      isSystem: false,
      message: 'two',
    });
    expect(all[2]).toMatchObject({ serviceName: null, isSystem: true });
    expect((await store.logs.tail(device, { limit: 2 })).map((l) => l.message)).toEqual([
      'Updating app',
      'four',
    ]);
    expect((await store.logs.tail(device, { limit: 10, service: 'main' })).map((l) => l.message)).toEqual([
      'one',
      'two',
    ]);
    const after = await store.logs.after(device, all[1]!.id, { limit: 10 });
    expect(after.map((l) => l.message)).toEqual(['Updating app', 'four']);
    expect(await store.logs.after(device, all[3]!.id, { limit: 10 })).toEqual([]);
  });

  it('refuses a wrong or missing key, and an unknown device, storing nothing', async () => {
    await open();
    expect(await codeOf(() => store.logs.append('abcd0001-device', 'device-key-2', [line('x')]))).toBe(
      'EFLEET_UNAUTHORIZED',
    );
    expect(await codeOf(() => store.logs.append('abcd0001-device', undefined, [line('x')]))).toBe(
      'EFLEET_UNAUTHORIZED',
    );
    expect(await codeOf(() => store.logs.append('nobody-0000', 'device-key-1', [line('x')]))).toBe(
      'EFLEET_UNAUTHORIZED',
    );
    expect(await store.logs.tail(await store.logs.resolve('abcd0001-device'), { limit: 10 })).toEqual([]);
  });

  it('keeps only the last lines per device, trimming as batches come in', async () => {
    await open(5);
    for (let batch = 0; batch < 3; batch += 1) {
      const lines = Array.from({ length: 3 }, (_, i) => line(`line ${batch * 3 + i + 1}`));
      await store.logs.append('abcd0001-device', 'device-key-1', lines);
    }
    await store.logs.append('abcd0002-device', 'device-key-2', [line('kept')]);
    const first = await store.logs.resolve('abcd0001-device');
    expect((await store.logs.tail(first, { limit: 100 })).map((l) => l.message)).toEqual([
      'line 5',
      'line 6',
      'line 7',
      'line 8',
      'line 9',
    ]);
    const counted = await store.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM device_logs');
    expect(Number(counted!.n)).toBe(6);
  });

  it('takes a batch bigger than what it keeps: the newest lines stay', async () => {
    await open(3);
    await store.logs.append(
      'abcd0001-device',
      'device-key-1',
      Array.from({ length: 10 }, (_, i) => line(`line ${i + 1}`)),
    );
    const device = await store.logs.resolve('abcd0001-device');
    expect((await store.logs.tail(device, { limit: 100 })).map((l) => l.message)).toEqual([
      'line 8',
      'line 9',
      'line 10',
    ]);
  });

  it('names a device by its uuid or a unique prefix', async () => {
    await open();
    expect((await store.logs.resolve('abcd0002')).uuid).toBe('abcd0002-device');
    expect((await store.logs.resolve('abcd0001-device')).uuid).toBe('abcd0001-device');
    expect(await codeOf(() => store.logs.resolve('abcd'))).toBe('EFLEET_BAD_INPUT');
    expect(await codeOf(() => store.logs.resolve('ffff'))).toBe('EFLEET_NOT_FOUND');
    expect(await codeOf(() => store.logs.resolve('ab%'))).toBe('EFLEET_NOT_FOUND');
  });
});
