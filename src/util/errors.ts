/**
 * The base of every error bosun raises on purpose. Classify by `code` or `instanceof`, never by
 * message text. `transient` says whether retrying the same thing later may succeed.
 */
export class BosunError extends Error {
  override name = 'BosunError';
  readonly code: string;
  readonly transient: boolean;

  constructor(code: string, message: string, options: { cause?: unknown; transient?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
    this.transient = options.transient ?? false;
  }
}

/**
 * Bad configuration or arguments, or device state only an operator can sort out: the process
 * exits 2 with the message. `code` is ECONFIG unless a subclass names its case.
 */
export class ConfigError extends BosunError {
  override name = 'ConfigError';
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(options.code ?? 'ECONFIG', message, { cause: options.cause });
  }
}

/** The app's update lock is held (by the app) and no override is in force. The local API answers 423. */
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

/** No such app or service. The local API answers 404. */
export class UnknownTargetError extends BosunError {
  override name = 'UnknownTargetError';
  constructor(message: string) {
    super('EUNKNOWN', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
