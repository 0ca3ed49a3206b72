import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readCloudSettings } from '../../../src/config/cloud-config.js';
import { loadConfig, maskSecrets } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/util/errors.js';
import { SECRET_LOG_PATHS } from '../../../src/util/logger.js';
import { captureLog } from '../../helpers/log-capture.js';

describe('config/load', () => {
  it('has the contract defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      apiEndpoint: '',
      pollIntervalMs: 900000,
      listenAddress: '127.0.0.1',
      listenPort: 48484,
      dataDir: '/var/lib/bosun',
      lockDir: '/run/bosun/services',
      dockerHost: 'unix:///var/run/docker.sock',
      overrideLock: false,
      logLevel: 'info',
    });
  });

  it('reads environment variables over the file named by BOSUN_CONFIG', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-config-'));
    const file = path.join(dir, 'config.json');
    await fs.writeFile(file, JSON.stringify({ pollIntervalMs: 60000, listenPort: 5000 }));
    const config = loadConfig({ BOSUN_CONFIG: file, BOSUN_LISTEN_PORT: '6000' });
    expect(config.pollIntervalMs).toBe(60000);
    expect(config.listenPort).toBe(6000);
  });

  it.each([
    [{ BOSUN_LISTEN_PORT: '99999' }, /BOSUN_LISTEN_PORT/],
    [{ BOSUN_POLL_INTERVAL_MS: '999' }, /BOSUN_POLL_INTERVAL_MS.*at least 1000/],
    // Past setTimeout's 2^31-1 ms a timer fires at once: the agent would poll in a tight loop.
    [{ BOSUN_POLL_INTERVAL_MS: '3000000000' }, /BOSUN_POLL_INTERVAL_MS.*at most 604800000 \(7 days\)/],
    [{ BOSUN_REPORT_INTERVAL_MS: '86400001' }, /BOSUN_REPORT_INTERVAL_MS.*at most 86400000 \(1 day\)/],
    [{ BOSUN_API_ENDPOINT: 'ftp://x' }, /BOSUN_API_ENDPOINT/],
    [{ BOSUN_OVERRIDE_LOCK: 'maybe' }, /BOSUN_OVERRIDE_LOCK/],
    [{ BOSUN_LOG_LEVEL: 'loud' }, /BOSUN_LOG_LEVEL/],
    [{ BOSUN_LISTEN_ADDRESS: 'localhost:1' }, /BOSUN_LISTEN_ADDRESS/],
    [{ DOCKER_HOST: '/var/run/docker.sock' }, /DOCKER_HOST/],
    // The bundled agent has no ssh transport: refused at start, with the reason, not at the first engine call.
    [{ DOCKER_HOST: 'ssh://pi@host' }, /DOCKER_HOST \(dockerHost\): ssh:\/\/ engines are not supported/],
    [{ DOCKER_HOST: 'tcp://127.0.0.1' }, /DOCKER_HOST.*tcp:\/\/host:port/],
    [{ BOSUN_CONFIG: '/nonexistent/bosun.json' }, /BOSUN_CONFIG/],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('says where a bad value came from: the environment or the file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-config-'));
    const file = path.join(dir, 'config.json');
    await fs.writeFile(file, JSON.stringify({ listenPort: 99999 }));
    expect(() => loadConfig({ BOSUN_CONFIG: file })).toThrow(
      `invalid configuration: BOSUN_LISTEN_PORT (listenPort): ports must be within range 0 - 65535: value was 99999 (in ${file})`,
    );
    expect(() => loadConfig({ BOSUN_CONFIG: file, BOSUN_LOG_LEVEL: 'loud' })).toThrow(
      /BOSUN_LOG_LEVEL \(logLevel\): .* \(from the environment\)/,
    );
  });

  it('rejects an unknown key in the config file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bosun-config-'));
    const file = path.join(dir, 'config.json');
    await fs.writeFile(file, JSON.stringify({ pollIntervalMS: 60000 }));
    expect(() => loadConfig({ BOSUN_CONFIG: file })).toThrow(/pollIntervalMS/);
  });

  it.each(['1', 'true', 'ON', 'True'])('reads %s as an override that is on', (value) => {
    expect(loadConfig({ BOSUN_OVERRIDE_LOCK: value }).overrideLock).toBe(true);
  });

  it('masks secrets for --print-config', () => {
    const config = loadConfig({ BOSUN_DEVICE_API_KEY: 'dev-secret', BOSUN_API_KEY: 'api-secret' });
    const printed = JSON.stringify(maskSecrets(config));
    expect(printed).not.toContain('dev-secret');
    expect(printed).not.toContain('api-secret');
    expect(printed).toContain('********');
  });

  it('keeps secrets out of logs', () => {
    const { log, lines } = captureLog({
      level: 'info',
      redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' },
    });
    const config = loadConfig({ BOSUN_PROVISIONING_KEY: 'prov-secret', BOSUN_API_KEY: 'api-secret' });
    log.info({ config }, 'starting');
    log.info({ apiKey: 'api-secret', headers: { authorization: 'Bearer api-secret' } }, 'request');
    expect(lines.join('')).not.toMatch(/prov-secret|api-secret/);
  });
});

describe('config/cloud-config', () => {
  it.each([
    [{ SUPERVISOR_OVERRIDE_LOCK: '1' }, true],
    [{ RESIN_SUPERVISOR_OVERRIDE_LOCK: 'true' }, true],
    [{ BALENA_OVERRIDE_LOCK: 'on' }, true],
    [{ RESIN_OVERRIDE_LOCK: '1', BALENA_SUPERVISOR_OVERRIDE_LOCK: '0' }, true], // balena #950
    [{ RESIN_SUPERVISOR_OVERRIDE_LOCK: '0', OVERRIDE_LOCK: 'false' }, false],
    [{}, false],
  ])('override lock from %j is %s', (config, expected) => {
    expect(readCloudSettings(config).overrideLock).toBe(expected);
  });

  it('applies the 10 s floor and the 7 day ceiling to the cloud poll interval and says so', () => {
    expect(readCloudSettings({ RESIN_SUPERVISOR_POLL_INTERVAL: '60000' }).pollIntervalMs).toBe(60000);
    expect(readCloudSettings({ SUPERVISOR_POLL_INTERVAL: '500' })).toMatchObject({
      pollIntervalMs: 10000,
      pollIntervalOutOfRange: 500,
    });
    // 30 days: past setTimeout's 2^31-1 ms, which would fire at once and poll in a tight loop.
    expect(readCloudSettings({ SUPERVISOR_POLL_INTERVAL: '2592000000' })).toMatchObject({
      pollIntervalMs: 7 * 24 * 3600 * 1000,
      pollIntervalOutOfRange: 2592000000,
    });
    expect(readCloudSettings({ SUPERVISOR_POLL_INTERVAL: 'soon' }).pollIntervalMs).toBeUndefined();
  });

  it('instant updates default on and can be turned off', () => {
    expect(readCloudSettings({}).instantUpdateTrigger).toBe(true);
    expect(readCloudSettings({ BALENA_SUPERVISOR_INSTANT_UPDATE_TRIGGER: 'off' }).instantUpdateTrigger).toBe(
      false,
    );
  });
});
