import { Writable } from 'node:stream';
import { pino, type LoggerOptions } from 'pino';
import type { Logger } from '../../src/util/logger.js';

/**
 * A pino logger whose output lands in `lines` (one JSON line per entry), so a test can check what
 * was logged and, above all, that no secret was. Level trace unless `options` says otherwise.
 */
export function captureLog(options: LoggerOptions = {}): { log: Logger; lines: string[]; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: pino({ level: 'trace', ...options }, sink), lines, text: () => lines.join('') };
}
