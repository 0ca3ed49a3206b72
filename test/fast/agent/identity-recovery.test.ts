/**
 * Finding #8 of the attack review: a corrupt identity.json must never fork the device's identity
 * silently (its containers, labelled with the old uuid, would become invisible to it).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  IdentityConflictError,
  ownerUuidsOf,
  recoverIdentity,
  salvageIdentity,
} from '../../../src/agent/identity-recovery.js';
import { loadIdentity } from '../../../src/agent/identity.js';
import { loadConfig } from '../../../src/config/load.js';
import type { AgentConfig } from '../../../src/config/schema.js';
import { MemoryEngine } from '../../../src/engine/memory-engine.js';
import { LABELS, type ContainerSpec } from '../../../src/engine/types.js';
import { JsonStore } from '../../../src/store/json-store.js';
import { ConfigError } from '../../../src/util/errors.js';
import { silentLogger } from '../../../src/util/logger.js';
import { captureLog } from '../../helpers/log-capture.js';

const OLD_UUID = '0123456789abcdef0123456789abcdef';
const API_KEY = 'a'.repeat(48);
const DEVICE_KEY = 'd'.repeat(48);
const WHOLE = JSON.stringify({ uuid: OLD_UUID, apiKey: API_KEY, deviceApiKey: DEVICE_KEY });

function spec(name: string, deviceUuid: string): ContainerSpec {
  return {
    name,
    image: 'reg/x:1',
    labels: {
      [LABELS.supervised]: 'true',
      [LABELS.appId]: '1',
      [LABELS.appUuid]: 'app',
      [LABELS.serviceName]: 'main',
      [LABELS.serviceId]: '2',
      [LABELS.deviceUuid]: deviceUuid,
      [LABELS.releaseUuid]: 'rel',
      [LABELS.releaseId]: '3',
      [LABELS.imageId]: '4',
      [LABELS.configHash]: 'hash',
    },
    env: {},
    restart: 'always',
    networkMode: 'none',
    mounts: [],
  };
}

async function engineWith(...owners: string[]): Promise<MemoryEngine> {
  const engine = new MemoryEngine({ images: ['reg/x:1'] });
  for (const [i, owner] of owners.entries()) await engine.createContainer(spec(`main_${i}`, owner));
  return engine;
}

async function dataDir(identityText?: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-identity-'));
  if (identityText !== undefined) await fs.writeFile(path.join(dir, 'identity.json'), identityText);
  return dir;
}

function config(over: Partial<AgentConfig> = {}): AgentConfig {
  return { ...loadConfig({}), uuid: '', apiKey: '', deviceApiKey: '', ...over };
}

async function load(dir: string, engine: MemoryEngine, over: Partial<AgentConfig> = {}) {
  const capture = captureLog();
  const identity = await loadIdentity(config(over), new JsonStore(dir), {
    listContainersOfAllDevices: () => engine.listContainersOfAllDevices(),
    log: capture.log,
  });
  return { identity, log: capture.text() };
}

describe('agent/identity-recovery salvageIdentity', () => {
  it('reads every whole field of a truncated or garbled file, and no torn one', () => {
    expect(salvageIdentity(WHOLE.slice(0, -10))).toEqual({ uuid: OLD_UUID, apiKey: API_KEY });
    expect(salvageIdentity(`\0\0garbage${WHOLE}trailing`)).toEqual({
      uuid: OLD_UUID,
      apiKey: API_KEY,
      deviceApiKey: DEVICE_KEY,
    });
    expect(salvageIdentity(`{"uuid":"${OLD_UUID.slice(0, 10)}`)).toEqual({});
    expect(salvageIdentity('{"uuid":"not a uuid!"}')).toEqual({});
    expect(salvageIdentity('')).toEqual({});
  });
});

describe('agent/identity-recovery ownerUuidsOf', () => {
  it('lists each owner once, sorted, from a plain list of containers', () => {
    const labelled = (uuid?: string): { labels: Record<string, string> } => ({
      labels: uuid === undefined ? {} : { [LABELS.deviceUuid]: uuid },
    });
    expect(ownerUuidsOf([labelled('b'), labelled('a'), labelled('b'), labelled(), labelled('')])).toEqual([
      'a',
      'b',
    ]);
  });
});

describe('agent/identity-recovery recoverIdentity', () => {
  const input = (copies: string[], engine: MemoryEngine) => ({
    file: '/data/identity.json',
    copies: copies.map((text, i) => ({ file: `/data/identity.json.corrupt-${i}`, text })),
    configuredUuid: '',
    listContainersOfAllDevices: () => engine.listContainersOfAllDevices(),
    log: silentLogger(),
  });

  it('takes a field from the newest copy that holds it', async () => {
    const engine = await engineWith('someone-else');
    const recovered = await recoverIdentity(input(['{"apiKey":"' + 'b'.repeat(48) + '"', WHOLE], engine));
    expect(recovered).toEqual({ uuid: OLD_UUID, apiKey: 'b'.repeat(48), deviceApiKey: DEVICE_KEY });
    expect(engine.callCount('listContainersOfAllDevices')).toBe(0);
  });

  it('does not ask the engine when BOSUN_UUID is configured', async () => {
    const engine = await engineWith('a', 'b');
    const recovered = await recoverIdentity({ ...input(['garbage'], engine), configuredUuid: 'configured' });
    expect(recovered).toEqual({});
    expect(engine.callCount('listContainersOfAllDevices')).toBe(0);
  });

  it('refuses, naming the file, the uuids and what to do, when containers of several devices are on the engine', async () => {
    const err = await recoverIdentity(
      input(['garbage'], await engineWith('uuid-a', 'uuid-b', 'uuid-a')),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityConflictError);
    expect(err).toBeInstanceOf(ConfigError); // the CLI exits 2 on a ConfigError
    expect((err as IdentityConflictError).code).toBe('EIDENTITY_CONFLICT');
    expect((err as IdentityConflictError).uuids).toEqual(['uuid-a', 'uuid-b']);
    expect((err as Error).message).toMatch(/\/data\/identity\.json.*uuid-a, uuid-b.*BOSUN_UUID/);
  });
});

describe('agent/identity loadIdentity with a corrupt identity.json', () => {
  it('keeps the uuid (and keys) a truncated file still holds', async () => {
    const dir = await dataDir(WHOLE.slice(0, -3));
    const { identity, log } = await load(dir, await engineWith());
    expect(identity).toEqual({ uuid: OLD_UUID, apiKey: API_KEY, deviceApiKey: '' });
    expect(log).toMatch(/recovered from the copy moved aside/);
    expect(log).not.toContain(API_KEY);
    // Stored again, whole: the next start reads it without recovery.
    const again = await load(dir, await engineWith('someone-else'));
    expect(again.identity).toEqual(identity);
    expect(again.log).toBe('');
  });

  it('takes the uuid from the one device label on the engine when the file is unreadable', async () => {
    const dir = await dataDir('\0\0\0 not json');
    const engine = await engineWith(OLD_UUID, OLD_UUID);
    const { identity, log } = await load(dir, engine);
    expect(identity.uuid).toBe(OLD_UUID);
    expect(log).toMatch(/recovered from the io\.bosun\.device-uuid label/);
    expect((await engine.listContainers(identity.uuid)).length).toBe(2);
  });

  it('makes a new identity, with a warning that the old one is lost, when nothing names a uuid', async () => {
    const dir = await dataDir('{"uu');
    const { identity, log } = await load(dir, await engineWith());
    expect(identity.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(log).toMatch(/the old identity is lost/);
  });

  it('stops start-up when containers of several devices are on the engine, and again at the next start', async () => {
    const dir = await dataDir('garbage');
    const engine = await engineWith('uuid-a', 'uuid-b');
    await expect(load(dir, engine)).rejects.toBeInstanceOf(IdentityConflictError);
    // The corrupt file was moved aside; a second start must not take the missing file for a new device.
    await expect(load(dir, engine)).rejects.toBeInstanceOf(IdentityConflictError);
    const { identity } = await load(dir, engine, { uuid: 'uuid-b' });
    expect(identity.uuid).toBe('uuid-b');
  });

  it('treats a file that parses but holds no uuid as damaged too', async () => {
    const dir = await dataDir('null');
    const { identity } = await load(dir, await engineWith(OLD_UUID));
    expect(identity.uuid).toBe(OLD_UUID);
  });

  it('a first start (no file, no copies) makes a new identity without asking the engine', async () => {
    const engine = await engineWith('another-agent-on-this-engine');
    const { identity, log } = await load(await dataDir(), engine);
    expect(identity.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(engine.callCount('listContainersOfAllDevices')).toBe(0);
    expect(log).toBe('');
  });
});
