import { BosunError } from '../util/errors.js';
import type { InputIssue } from './api-types.js';

export type { InputIssue } from './api-types.js';

export type FleetErrorCode =
  'EFLEET_BAD_INPUT' | 'EFLEET_UNAUTHORIZED' | 'EFLEET_NOT_FOUND' | 'EFLEET_CONFLICT' | 'EFLEET_TOO_LARGE';

const STATUS_OF: Record<FleetErrorCode, number> = {
  EFLEET_BAD_INPUT: 400,
  EFLEET_UNAUTHORIZED: 401,
  EFLEET_NOT_FOUND: 404,
  EFLEET_CONFLICT: 409,
  EFLEET_TOO_LARGE: 413,
};

/** An error the fleet backend answers with a 4xx status and `{ error, message, issues? }`. */
export class FleetError extends BosunError {
  override name = 'FleetError';
  readonly statusCode: number;
  readonly issues: InputIssue[];
  /** A presented key or token did not match: counts towards the source's throttle. */
  readonly failedAuthentication: boolean;

  constructor(
    code: FleetErrorCode,
    message: string,
    issues: InputIssue[] = [],
    options: { failedAuthentication?: boolean } = {},
  ) {
    super(code, message);
    this.statusCode = STATUS_OF[code];
    this.issues = issues;
    this.failedAuthentication = options.failedAuthentication ?? code === 'EFLEET_UNAUTHORIZED';
  }
}

export function badInput(message: string, issues: InputIssue[] = []): FleetError {
  return new FleetError('EFLEET_BAD_INPUT', message, issues);
}

export function notFound(message: string): FleetError {
  return new FleetError('EFLEET_NOT_FOUND', message);
}

/** A 409; `failedAuthentication` when the conflict is a key that does not match a known one. */
export function conflict(message: string, options: { failedAuthentication?: boolean } = {}): FleetError {
  return new FleetError('EFLEET_CONFLICT', message, [], options);
}

export function unauthorized(message = 'missing or wrong key'): FleetError {
  return new FleetError('EFLEET_UNAUTHORIZED', message);
}

/** A 413: the request, or what it would make of stored data, is over a size limit. */
export function tooLarge(message: string): FleetError {
  return new FleetError('EFLEET_TOO_LARGE', message);
}

/** A compose file that cannot become a release; `issues` lists every problem found. */
export class ComposeError extends FleetError {
  override name = 'ComposeError';
  constructor(issues: InputIssue[]) {
    super('EFLEET_BAD_INPUT', formatIssues(issues), issues);
  }
}

export function formatIssue(issue: InputIssue): string {
  const where = issue.line !== undefined ? ` (line ${issue.line}, column ${issue.col ?? 1})` : '';
  return issue.path ? `${issue.path}: ${issue.message}${where}` : `${issue.message}${where}`;
}

function formatIssues(issues: InputIssue[]): string {
  return `invalid compose file: ${issues.map(formatIssue).join('; ')}`;
}
