import { BosunError } from '../util/errors.js';

/** The engine does not answer (socket missing, refused, timed out). Transient. */
export class EngineUnavailableError extends BosunError {
  override name = 'EngineUnavailableError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EENGINE_UNAVAILABLE', message, { ...options, transient: true });
  }
}

/** The image or tag does not exist in its registry. Terminal until the target changes. */
export class ImageNotFoundError extends BosunError {
  override name = 'ImageNotFoundError';
  constructor(
    readonly image: string,
    options: { cause?: unknown } = {},
  ) {
    super('EIMAGE_NOT_FOUND', `image ${image} not found in its registry`, { ...options, transient: false });
  }
}

/** Pulling an image failed for another reason (registry down, network, disk full). Transient. */
export class PullError extends BosunError {
  override name = 'PullError';
  constructor(
    readonly image: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('EPULL', `pulling ${image} failed: ${message}`, { ...options, transient: true });
  }
}

/** A container (or volume) with that name already exists. */
export class NameConflictError extends BosunError {
  override name = 'NameConflictError';
  constructor(
    readonly objectName: string,
    options: { cause?: unknown } = {},
  ) {
    super('ENAME_CONFLICT', `name ${objectName} is already in use`, { ...options, transient: true });
  }
}

/** The container, image or volume does not exist. */
export class NotFoundError extends BosunError {
  override name = 'NotFoundError';
  constructor(what: string, options: { cause?: unknown } = {}) {
    super('ENOT_FOUND', `${what} not found`, { ...options, transient: false });
  }
}

/** Any other failure the engine reported, with its status code. */
export class EngineError extends BosunError {
  override name = 'EngineError';
  constructor(
    message: string,
    readonly statusCode?: number,
    options: { cause?: unknown } = {},
  ) {
    super('EENGINE', message, { ...options, transient: true });
  }
}

/** An operation was aborted through its AbortSignal (a newer target arrived). */
export class AbortedError extends BosunError {
  override name = 'AbortedError';
  constructor(message = 'aborted', options: { cause?: unknown } = {}) {
    super('EABORTED', message, { ...options, transient: true });
  }
}

/** The image cannot be removed while a container (running or not) uses it. */
export class ImageInUseError extends EngineError {
  override name = 'ImageInUseError';
  override readonly code: string = 'EIMAGE_IN_USE';
  constructor(
    readonly image: string,
    options: { cause?: unknown } = {},
  ) {
    super(`image ${image} is in use by a container; remove the container first`, 409, options);
  }
}
