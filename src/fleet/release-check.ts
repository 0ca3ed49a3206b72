import { TargetValidationError, splitPath } from '../target/fields.js';
import type { TargetWarning } from '../target/types.js';
import { parseReleaseObject } from '../target/validate.js';
import type { Locate } from './compose.js';
import { ComposeError, type InputIssue } from './errors.js';

/**
 * Runs the device's own validation (target/validate.ts) on a release the fleet is about to store
 * and serve. There is one validator: what a device would reject whole is refused at push, with
 * the device's message (its path, relative to the release, and its reason), and what a device
 * would warn about is returned, so it is shown at push instead of only in state reports.
 *
 * `locate` finds the compose file's line of a path, when the release came from YAML text.
 */
export function checkRelease(commit: string, release: unknown, locate: Locate): InputIssue[] {
  try {
    return parseReleaseObject(commit, release).warnings.map((warning) => withLine(warning, locate));
  } catch (err) {
    if (err instanceof TargetValidationError) {
      throw new ComposeError([withLine({ path: err.path, message: err.reason }, locate)]);
    }
    throw err;
  }
}

function withLine(issue: TargetWarning, locate: Locate): InputIssue {
  return { path: issue.path, message: issue.message, ...locate(composePath(issue.path)) };
}

/**
 * A release path as a compose path: compose writes a service's composition keys directly in the
 * service, so `services.main.composition.working_dir` is `services.main.working_dir` there.
 */
export function composePath(releasePath: string): Array<string | number> {
  const keys = splitPath(releasePath);
  if (keys[0] === 'services' && keys[2] === 'composition') keys.splice(2, 1);
  return keys;
}
