import { BosunError } from '../util/errors.js';

/** The app's update lock is held (by the app) and no override is in force. API answers 423. */
export class LockedError extends BosunError {
  override name = 'LockedError';
  constructor(
    message: string,
    readonly paths: string[] = [],
    /** The locked app, so an answer to another app's key can leave its name and paths out. */
    readonly appId?: number,
  ) {
    super('ELOCKED', message, { transient: true });
  }
}

/** No such app or service. API answers 404. */
export class UnknownTargetError extends BosunError {
  override name = 'UnknownTargetError';
  constructor(message: string) {
    super('EUNKNOWN', message);
  }
}

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
