import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** Keys whose values are secrets: pino replaces them wherever they appear in a log object. */
export const SECRET_LOG_PATHS = [
  'deviceApiKey',
  'apiKey',
  'provisioningKey',
  'key',
  'authorization',
  'headers.authorization',
  '*.deviceApiKey',
  '*.apiKey',
  '*.provisioningKey',
  'config.deviceApiKey',
  'config.apiKey',
  'config.provisioningKey',
];

/**
 * JSON lines for machines (journald, a log shipper), readable lines for a person: when stdout is
 * a terminal the lines go through pino-pretty, loaded only then (a device's service never pays
 * for it). `destination` is for tests.
 */
export function createLogger(
  level: LevelWithSilent = 'info',
  name = 'bosun',
  destination: { isTTY?: boolean } & NodeJS.WritableStream = process.stdout,
): Logger {
  const options = { name, level, redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' } };
  if (!destination.isTTY) return destination === process.stdout ? pino(options) : pino(options, destination);
  // createRequire keeps the load synchronous and out of the bundle: the agent's start-up needs
  // its logger before anything async, and the bundle must not carry a printer it rarely uses.
  const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: object) => NodeJS.WritableStream;
  return pino(
    options,
    pretty({ destination, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }),
  );
}

/** A logger that discards everything, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
