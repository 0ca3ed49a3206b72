import { BosunError } from '../util/errors.js';

// Raised below the API (by the loop and the agent); the API answers them 423 and 404.
export { LockedError, UnknownTargetError } from '../util/errors.js';

/** The request is well-formed but not allowed now (e.g. local target in managed mode). API answers 400. */
export class BadRequestError extends BosunError {
  override name = 'BadRequestError';
  constructor(message: string) {
    super('EBADREQUEST', message);
  }
}

/** No key, an unknown key, or an app-scoped key used outside its app. API answers 401. */
export class UnauthorizedError extends BosunError {
  override name = 'UnauthorizedError';
  constructor(message: string) {
    super('EUNAUTHORIZED', message);
  }
}

/** A valid key asking for more than it may (an app's key forcing a reboot). API answers 403. */
export class ForbiddenError extends BosunError {
  override name = 'ForbiddenError';
  constructor(message: string) {
    super('EFORBIDDEN', message);
  }
}
