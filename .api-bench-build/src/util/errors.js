/**
 * The base of every error bosun raises on purpose. Classify by `code` or `instanceof`, never by
 * message text. `transient` says whether retrying the same thing later may succeed.
 */
export class BosunError extends Error {
    name = 'BosunError';
    code;
    transient;
    constructor(code, message, options = {}) {
        super(message, { cause: options.cause });
        this.code = code;
        this.transient = options.transient ?? false;
    }
}
/** Bad configuration or arguments: the process exits 2 with the message. */
export class ConfigError extends BosunError {
    name = 'ConfigError';
    constructor(message, options = {}) {
        super('ECONFIG', message, options);
    }
}
export function errorMessage(err) {
    return err instanceof Error ? err.message : String(err);
}
