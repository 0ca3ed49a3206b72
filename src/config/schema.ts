import { isIP } from 'node:net';
import convict from 'convict';
import { parsePolicyDuration } from '../policy/durations.js';
import { parseUpdateWindow } from '../policy/update-window.js';
import { DOCKER_HOST_SHAPES, parseDockerHost } from './docker-host.js';

/** Booleans as device environments spell them: 1/true/on and 0/false/off, any case. */
export function parseBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value === 1 ? true : value === 0 ? false : undefined;
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'true' || v === 'on') return true;
  if (v === '0' || v === 'false' || v === 'off' || v === '') return false;
  return undefined;
}

convict.addFormat({
  name: 'flag',
  validate(value: unknown) {
    if (parseBoolean(value) === undefined) throw new Error('must be one of 1/true/on or 0/false/off');
  },
  coerce: (value: unknown) => parseBoolean(value) ?? value,
});

convict.addFormat({
  name: 'optional-url',
  validate(value: unknown) {
    if (value === '') return;
    if (typeof value !== 'string') throw new Error('must be a URL');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`must be an http(s) URL, got ${JSON.stringify(value)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http or https');
  },
});

convict.addFormat({
  name: 'ip-address',
  validate(value: unknown) {
    if (typeof value !== 'string' || isIP(value) === 0) throw new Error('must be an IPv4 or IPv6 address');
  },
});

convict.addFormat({
  name: 'docker-host',
  validate(value: unknown) {
    if (typeof value !== 'string') throw new Error(`must look like ${DOCKER_HOST_SHAPES}`);
    const parsed = parseDockerHost(value);
    if (!parsed.ok) throw new Error(parsed.reason);
  },
});

/**
 * The longest poll interval, from the cloud or the device: a week. Beyond 2^31-1 ms (24.8 days)
 * Node's timers fire at once, so an unbounded value would poll hundreds of times a second.
 */
export const POLL_INTERVAL_CEILING_MS = 7 * 24 * 60 * 60 * 1000;

/** A whole number of milliseconds within [min, max]: every duration the agent waits on is bounded. */
function addMillisecondsFormat(name: string, min: number, max: number, maxText: string): void {
  convict.addFormat({
    name,
    validate(value: unknown) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new Error(
          `must be a whole number of milliseconds, at least ${min} and at most ${max} (${maxText})`,
        );
      }
    },
    coerce: (value: unknown) => Number(value),
  });
}
addMillisecondsFormat('poll-interval', 1000, POLL_INTERVAL_CEILING_MS, '7 days');
addMillisecondsFormat('report-interval', 0, 24 * 60 * 60 * 1000, '1 day');

/** How many unsent log lines the device keeps: each costs memory, so the count is bounded. */
export const LOG_BUFFER_LINES_CEILING = 1_000_000;
convict.addFormat({
  name: 'log-buffer-lines',
  validate(value: unknown) {
    if (
      typeof value !== 'number' ||
      !Number.isInteger(value) ||
      value < 1 ||
      value > LOG_BUFFER_LINES_CEILING
    ) {
      throw new Error(`must be a whole number of lines, at least 1 and at most ${LOG_BUFFER_LINES_CEILING}`);
    }
  },
  coerce: (value: unknown) => Number(value),
});

/** A policy value of contract section 10; empty means not set. The parser's message says what is wrong. */
function addPolicyFormat(name: string, parse: (text: string) => unknown): void {
  convict.addFormat({
    name,
    validate(value: unknown) {
      if (typeof value !== 'string') throw new Error('must be a string');
      if (value.trim() !== '') parse(value);
    },
  });
}
addPolicyFormat('policy-duration', parsePolicyDuration);
addPolicyFormat('update-window', parseUpdateWindow);

/** Which config keys hold secrets: masked in --print-config, redacted in logs. */
export const SECRET_KEYS = ['deviceApiKey', 'apiKey', 'provisioningKey'] as const;

export const schema = {
  apiEndpoint: {
    doc: 'Cloud base URL; empty means unmanaged (local mode)',
    format: 'optional-url',
    default: '',
    env: 'BOSUN_API_ENDPOINT',
  },
  uuid: {
    doc: 'Device uuid; generated and persisted when absent',
    format: String,
    default: '',
    env: 'BOSUN_UUID',
  },
  deviceApiKey: {
    doc: 'Device key, sent to the cloud as Authorization: Bearer',
    format: String,
    default: '',
    env: 'BOSUN_DEVICE_API_KEY',
    sensitive: true,
  },
  provisioningKey: {
    doc: 'Provisioning key: register with the cloud when there is no device key',
    format: String,
    default: '',
    env: 'BOSUN_PROVISIONING_KEY',
    sensitive: true,
  },
  fleet: {
    doc: 'Fleet to register into, with the provisioning key',
    format: String,
    default: '',
    env: 'BOSUN_FLEET',
  },
  pollIntervalMs: {
    doc: 'Target state poll interval in ms (at least 1000; the cloud var has a floor of 10000)',
    format: 'poll-interval',
    default: 900000,
    env: 'BOSUN_POLL_INTERVAL_MS',
  },
  reportIntervalMs: {
    doc: 'Least time between two state reports to the cloud, in ms',
    format: 'report-interval',
    default: 10000,
    env: 'BOSUN_REPORT_INTERVAL_MS',
  },
  listenAddress: {
    doc: 'Local API bind address',
    format: 'ip-address',
    default: '127.0.0.1',
    env: 'BOSUN_LISTEN_ADDRESS',
  },
  listenPort: {
    doc: 'Local API port (0 picks a free one)',
    format: 'port',
    default: 48484,
    env: 'BOSUN_LISTEN_PORT',
  },
  apiKey: {
    doc: 'Global local-API key; generated and persisted when absent',
    format: String,
    default: '',
    env: 'BOSUN_API_KEY',
    sensitive: true,
  },
  dataDir: {
    doc: "The agent's persistent state",
    format: String,
    default: '/var/lib/bosun',
    env: 'BOSUN_DATA_DIR',
  },
  lockDir: {
    doc: 'Host base of the per-service lock dirs',
    format: String,
    default: '/run/bosun/services',
    env: 'BOSUN_LOCK_DIR',
  },
  dockerHost: {
    doc: 'Docker engine endpoint: unix:///path/to/docker.sock or tcp://host:port (https:// for TLS); ssh:// is not supported',
    format: 'docker-host',
    default: 'unix:///var/run/docker.sock',
    env: 'DOCKER_HOST',
  },
  overrideLock: {
    doc: 'Device-local update lock override (1/true/on)',
    format: 'flag',
    default: false,
    env: 'BOSUN_OVERRIDE_LOCK',
  },
  updateLockDeadline: {
    doc: 'How long an update waits on a user lock before it goes on as under an override (90s, 30m, 2h); empty: for ever',
    format: 'policy-duration',
    default: '',
    env: 'BOSUN_UPDATE_LOCK_DEADLINE',
  },
  updateWindow: {
    doc: 'When updates may interrupt apps, e.g. "Mon-Fri 02:00-04:00 Europe/Berlin"; empty: any time',
    format: 'update-window',
    default: '',
    env: 'BOSUN_UPDATE_WINDOW',
  },
  updateProbation: {
    doc: 'How long a new release must run well before it is kept; 0 turns rollback off',
    format: 'policy-duration',
    default: '60s',
    env: 'BOSUN_UPDATE_PROBATION',
  },
  targetStateFile: {
    doc: 'Preloaded target (v3 device object) applied when no cloud target is stored yet; in local mode an edited file is applied at start',
    format: String,
    default: '',
    env: 'BOSUN_TARGET_STATE_FILE',
  },
  policyFile: {
    doc: 'Device policy (JSON): what a target may ask of this device; empty: everything balena allows',
    format: String,
    default: '',
    env: 'BOSUN_POLICY_FILE',
  },
  logBufferLines: {
    doc: 'Unsent log lines the device keeps while the cloud is away; beyond it the oldest are dropped (and counted)',
    format: 'log-buffer-lines',
    default: 10000,
    env: 'BOSUN_LOG_BUFFER_LINES',
  },
  logLevel: {
    doc: 'Log level: trace, debug, info, warn, error, fatal or silent',
    format: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    default: 'info',
    env: 'BOSUN_LOG_LEVEL',
  },
  rebootCommand: {
    doc: 'Host command run by POST /v1/reboot',
    format: String,
    default: 'systemctl reboot',
    env: 'BOSUN_REBOOT_COMMAND',
  },
  shutdownCommand: {
    doc: 'Host command run by POST /v1/shutdown',
    format: String,
    default: 'systemctl poweroff',
    env: 'BOSUN_SHUTDOWN_COMMAND',
  },
  lockWatch: {
    doc: 'Watch lock paths with fs.watch (off: fallback poll only, for benchmarks)',
    format: 'flag',
    default: true,
    env: 'BOSUN_LOCK_WATCH',
  },
};

export type AgentConfig = {
  apiEndpoint: string;
  uuid: string;
  deviceApiKey: string;
  provisioningKey: string;
  fleet: string;
  pollIntervalMs: number;
  reportIntervalMs: number;
  listenAddress: string;
  listenPort: number;
  apiKey: string;
  dataDir: string;
  lockDir: string;
  dockerHost: string;
  overrideLock: boolean;
  updateLockDeadline: string;
  updateWindow: string;
  updateProbation: string;
  targetStateFile: string;
  policyFile: string;
  logBufferLines: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  rebootCommand: string;
  shutdownCommand: string;
  lockWatch: boolean;
};

export function newConfig(env: NodeJS.ProcessEnv) {
  // args: [] so convict never reads the host program's argv (jest's, or our CLI's).
  return convict<AgentConfig>(schema as convict.Schema<AgentConfig>, { env, args: [] });
}
