import { pino } from 'pino';
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
export function createLogger(level = 'info', name = 'bosun') {
    return pino({ name, level, redact: { paths: SECRET_LOG_PATHS, censor: '[redacted]' } });
}
/** A logger that discards everything, for tests and library use. */
export function silentLogger() {
    return pino({ level: 'silent' });
}
