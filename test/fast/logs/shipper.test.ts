import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LogBuffer } from '../../../src/logs/buffer.js';
import { LogShipper } from '../../../src/logs/shipper.js';
import type { DeviceLogLine, LogWireLine } from '../../../src/logs/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { waitFor } from '../../helpers/wait.js';
import { FakeCloud, type RecordedRequest } from '../../helpers/fake-cloud.js';

const UUID = 'device-logs-0001';
const KEY = 'device-key-0123456789';
const ROUTE = `POST /device/v2/${UUID}/log-stream`;

function lines(count: number, from = 1): DeviceLogLine[] {
  return Array.from({ length: count }, (_, i) => ({
    message: `line ${from + i}`,
    timestamp: 1_772_600_000_000 + from + i,
    serviceName: 'main',
    isStderr: (from + i) % 2 === 0,
  }));
}

const parse = (req: RecordedRequest): LogWireLine[] =>
  req.body
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as LogWireLine);

describe('logs/shipper against a cloud on 127.0.0.1', () => {
  let cloud: FakeCloud;
  let shipper: LogShipper | undefined;
  /** While true the cloud answers 503: it is "away". */
  let down: boolean;
  let delivered: string[];

  beforeEach(async () => {
    cloud = await FakeCloud.start();
    down = false;
    delivered = [];
    cloud.fallback(ROUTE, () => (down ? { status: 503 } : { status: 200, body: { status: 'ok' } }));
  });

  afterEach(async () => {
    await shipper?.stop();
    await cloud.close();
  });

  const start = (buffer: LogBuffer<DeviceLogLine>, batchLines = 500) => {
    shipper = new LogShipper({
      endpoint: cloud.url,
      uuid: UUID,
      getDeviceKey: () => KEY,
      buffer,
      log: silentLogger(),
      gatherMs: 10,
      batchLines,
      backoff: { baseMs: 20, capMs: 60 },
      onDelivered: async (batch) => {
        delivered.push(...batch.map((l) => l.message));
      },
    });
    return shipper;
  };

  /** Every line the cloud accepted (a 200), in order. */
  const accepted = () =>
    cloud.requestsTo(ROUTE).flatMap((req) => (acceptedBodies.has(req) ? parse(req) : []));
  const acceptedBodies = new Set<RecordedRequest>();
  const trackAccepted = () =>
    cloud.fallback(ROUTE, (req) => {
      if (down) return { status: 503 };
      acceptedBodies.add(req);
      return { status: 200, body: { status: 'ok' } };
    });

  it('sends NDJSON batches with the device key, in order, each line in the contract shape', async () => {
    trackAccepted();
    const buffer = new LogBuffer<DeviceLogLine>(100);
    const ship = start(buffer, 4);
    for (const line of [...lines(9), { message: 'Updating app', timestamp: 5, isSystem: true }]) {
      buffer.push(line);
      ship.notify();
    }
    await waitFor('every line delivered', () => delivered.length === 10, 5_000, 10);
    const requests = cloud.requestsTo(ROUTE);
    expect(requests.map((r) => parse(r).length)).toEqual([4, 4, 2]);
    expect(requests[0]!.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(requests[0]!.headers['content-type']).toBe('application/x-ndjson');
    expect(accepted()[0]).toEqual({ message: 'line 1', timestamp: 1_772_600_000_001, serviceName: 'main' });
    expect(accepted()[1]).toEqual({
      message: 'line 2',
      timestamp: 1_772_600_000_002,
      serviceName: 'main',
      isStderr: true,
    });
    expect(accepted().at(-1)).toEqual({ message: 'Updating app', timestamp: 5, isSystem: true });
    expect(accepted().map((l) => l.message)).toEqual(delivered);
  });

  it('loses no line while the cloud is away, up to the buffer size, and sends them in order after', async () => {
    trackAccepted();
    const buffer = new LogBuffer<DeviceLogLine>(50);
    const ship = start(buffer, 20);
    down = true;
    for (const line of lines(50)) {
      buffer.push(line);
      ship.notify();
    }
    await waitFor('retries while away', () => cloud.requestsTo(ROUTE).length >= 3, 5_000, 10);
    expect(delivered).toEqual([]);
    down = false;
    await waitFor('every line delivered', () => delivered.length === 50, 5_000, 10);
    expect(accepted().map((l) => l.message)).toEqual(lines(50).map((l) => l.message));
    expect(accepted().some((l) => l.isSystem)).toBe(false);
    expect(buffer.unsent).toBe(0);
  });

  it('beyond the buffer size, drops the oldest and then says how many with a system line', async () => {
    trackAccepted();
    const buffer = new LogBuffer<DeviceLogLine>(10);
    const ship = start(buffer, 5);
    down = true;
    for (const line of lines(25)) {
      buffer.push(line);
      ship.notify();
    }
    await waitFor('a failed attempt', () => cloud.requestsTo(ROUTE).length >= 1, 5_000, 10);
    down = false;
    await waitFor('the buffer emptied', () => !ship.pending(), 5_000, 10);
    const got = accepted();
    const notice = got.find((l) => l.isSystem);
    expect(notice?.message).toMatch(/^15 log lines dropped: .* at most 10 unsent lines/);
    // The notice comes first, then the newest 10 lines, in order.
    expect(got.map((l) => l.message)).toEqual([notice!.message, ...lines(10, 16).map((l) => l.message)]);
  });

  it('drops a batch the cloud refuses for good (400), counts it, and goes on', async () => {
    const buffer = new LogBuffer<DeviceLogLine>(100);
    const ship = start(buffer, 3);
    cloud.script(ROUTE, { status: 400, body: { error: 'EFLEET_BAD_INPUT', message: 'line 1: not JSON' } });
    trackAccepted();
    for (const line of lines(5)) {
      buffer.push(line);
      ship.notify();
    }
    await waitFor('the buffer emptied', () => !ship.pending(), 5_000, 10);
    expect(accepted().map((l) => l.message)).toEqual([
      expect.stringMatching(/^3 log lines dropped/),
      'line 4',
      'line 5',
    ]);
  });

  it('flush() sends everything at once on shutdown, and says false when the cloud is away', async () => {
    trackAccepted();
    const buffer = new LogBuffer<DeviceLogLine>(100);
    const ship = start(buffer, 4);
    lines(10).forEach((l) => buffer.push(l)); // no notify: nothing scheduled
    expect(await ship.flush()).toBe(true);
    expect(delivered).toHaveLength(10);
    down = true;
    lines(2, 11).forEach((l) => buffer.push(l));
    expect(await ship.flush()).toBe(false);
    expect(buffer.unsent).toBe(2);
  });
});
