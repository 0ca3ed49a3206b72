import { BosunError } from '../util/errors.js';
/** The app's update lock is held (by the app) and no override is in force. API answers 423. */
export class LockedError extends BosunError {
    paths;
    name = 'LockedError';
    constructor(message, paths = []) {
        super('ELOCKED', message, { transient: true });
        this.paths = paths;
    }
}
/** No such app or service. API answers 404. */
export class UnknownTargetError extends BosunError {
    name = 'UnknownTargetError';
    constructor(message) {
        super('EUNKNOWN', message);
    }
}
/** The request is well-formed but not allowed now (e.g. local target in managed mode). API answers 400. */
export class BadRequestError extends BosunError {
    name = 'BadRequestError';
    constructor(message) {
        super('EBADREQUEST', message);
    }
}
/** No key, an unknown key, or an app-scoped key used outside its app. API answers 401. */
export class UnauthorizedError extends BosunError {
    name = 'UnauthorizedError';
    constructor(message) {
        super('EUNAUTHORIZED', message);
    }
}
