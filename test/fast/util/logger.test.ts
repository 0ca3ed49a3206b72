import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../../src/util/logger.js';
import { waitFor } from '../../helpers/wait.js';

/** A stream that keeps what is written, and says whether it is a terminal. */
function sink(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => chunks.join('');
  return stream;
}

describe('util/logger: lines a person reads on a terminal, JSON otherwise', () => {
  it('writes one JSON object a line when the output is not a terminal', async () => {
    const out = sink(false);
    createLogger('info', 'bosun', out).info({ appUuid: 'a1' }, 'update lock taken by agent');
    await waitFor('a line', () => out.text().includes('\n'));
    expect(JSON.parse(out.text())).toMatchObject({
      name: 'bosun',
      appUuid: 'a1',
      msg: 'update lock taken by agent',
    });
  });

  it('writes readable lines through pino-pretty on a terminal, secrets still redacted', async () => {
    const out = sink(true);
    createLogger('info', 'bosun', out).warn({ apiKey: 'SECRET', appUuid: 'a1' }, 'user update locks removed');
    await waitFor('a line', () => out.text().includes('user update locks removed'));
    // eslint-disable-next-line no-control-regex -- colours are for the terminal, not the assertions
    const text = out.text().replace(/\u001b\[\d+m/g, '');
    expect(text).toMatch(/WARN.*\(bosun\).*user update locks removed/);
    expect(text).toContain('appUuid: "a1"');
    expect(text).not.toContain('SECRET');
    expect(() => JSON.parse(text)).toThrow();
  });
});
