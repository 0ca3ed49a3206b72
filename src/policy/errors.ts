import { BosunError } from '../util/errors.js';

/**
 * A malformed update-policy value (contract section 10): a duration or an update window. The
 * message says what was expected and quotes what was given; the caller names the env var or
 * label it came from (in a target it rejects the target, in the device's env it stops start-up).
 */
export class PolicyValueError extends BosunError {
  override name = 'PolicyValueError';
  constructor(message: string) {
    super('EPOLICY_VALUE', message);
  }
}

/** The text as a message quotes it: JSON-escaped, and cut short so a hostile value cannot flood a log. */
export function quoted(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text);
}
