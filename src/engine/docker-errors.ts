/**
 * Turns whatever dockerode throws into bosun's typed engine errors. Classification is by HTTP
 * status code or socket error code; the daemon's message text is read in one place only
 * (isImageMissingMessage), for pull failures the engine reports inside a 200 stream.
 */
import { BosunError, errorMessage } from '../util/errors.js';
import {
  AbortedError,
  EngineError,
  EngineUnavailableError,
  ImageNotFoundError,
  NotFoundError,
  PullError,
} from './errors.js';

/** Socket-level failures: nothing answered, so the engine is down or unreachable, not wrong. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOENT',
  'EACCES',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface DockerodeError {
  statusCode?: number;
  code?: string;
  name?: string;
  json?: unknown;
}

function asDockerodeError(err: unknown): DockerodeError {
  return typeof err === 'object' && err !== null ? (err as DockerodeError) : {};
}

/** The HTTP status the engine answered with, if the failure was an answer at all. */
export function dockerStatusOf(err: unknown): number | undefined {
  const status = asDockerodeError(err).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The engine's own message (its JSON `message`), else the error's. */
function daemonMessageOf(err: unknown): string {
  const json = asDockerodeError(err).json;
  if (
    typeof json === 'object' &&
    json !== null &&
    typeof (json as { message?: unknown }).message === 'string'
  ) {
    return (json as { message: string }).message;
  }
  return errorMessage(err);
}

function isAbort(err: unknown): boolean {
  const { name, code } = asDockerodeError(err);
  return name === 'AbortError' || code === 'ABORT_ERR';
}

function isUnreachable(err: unknown): boolean {
  const { code } = asDockerodeError(err);
  return dockerStatusOf(err) === undefined && code !== undefined && UNREACHABLE_CODES.has(code);
}

/**
 * The one mapping from a dockerode failure to a typed error. `subject` names the object for
 * messages ("container 3f2a…", "volume data"); `endpoint` names the engine for unreachable errors.
 * 404 becomes NotFoundError; callers that give 304/404/409 a meaning check dockerStatusOf first.
 */
export function toEngineError(err: unknown, subject: string, endpoint = 'the Docker engine'): BosunError {
  if (err instanceof BosunError) return err;
  if (isAbort(err)) return new AbortedError(`${subject}: aborted`, { cause: err });
  if (isUnreachable(err)) {
    return new EngineUnavailableError(`${endpoint} is not reachable (${asDockerodeError(err).code})`, {
      cause: err,
    });
  }
  const status = dockerStatusOf(err);
  if (status === 404) return new NotFoundError(subject, { cause: err });
  const detail = status === undefined ? errorMessage(err) : `HTTP ${status}: ${daemonMessageOf(err)}`;
  return new EngineError(`${subject}: ${detail}`, status, { cause: err });
}

/**
 * Whether a pull error the engine sent inside its progress stream (after answering 200, so
 * there is no status code to go by) means the image or tag does not exist in the registry.
 */
export function isImageMissingMessage(message: string): boolean {
  return /manifest unknown|not found|repository does not exist|no such image/i.test(message);
}

/** Maps a failed pull: a missing image is terminal, everything else may pass with a retry. */
export function toPullError(ref: string, err: unknown, endpoint?: string): BosunError {
  if (err instanceof BosunError) return err;
  const status = dockerStatusOf(err);
  if (status === 404) return new ImageNotFoundError(ref, { cause: err });
  if (status !== undefined)
    return new PullError(ref, `HTTP ${status}: ${daemonMessageOf(err)}`, { cause: err });
  const mapped = toEngineError(err, `pulling ${ref}`, endpoint);
  if (mapped instanceof AbortedError || mapped instanceof EngineUnavailableError) return mapped;
  return new PullError(ref, errorMessage(err), { cause: err });
}

/** Maps an error line of the pull stream (see pullEventError). */
export function pullStreamError(ref: string, message: string): BosunError {
  if (isImageMissingMessage(message)) return new ImageNotFoundError(ref, { cause: new Error(message) });
  return new PullError(ref, message);
}
