import { isPlainObject } from './compose-values.js';
import { badInput, tooLarge } from './errors.js';

/** Largest `POST /device/v2/:uuid/log-stream` body; the agent sends half of it at most. */
export const MAX_LOG_BODY_BYTES = 1024 * 1024;
/** Lines in one batch at most (the agent sends 500). */
export const MAX_LOG_BATCH_LINES = 2000;
/** Longest message kept (UTF-16 units): the agent cuts lines at 64 KiB. */
export const MAX_LOG_MESSAGE_LENGTH = 64 * 1024;
/** Longest service name (a compose service name is far shorter). */
const MAX_SERVICE_NAME_LENGTH = 256;
/** Timestamps must be a real date: from 1970 to the year 275760 (what Date can hold). */
const MAX_TIMESTAMP_MS = 8.64e15;

/** One line as the backend stores it. */
export interface StoredLogInput {
  message: string;
  timestamp: number;
  serviceName: string | null;
  isStderr: boolean;
  isSystem: boolean;
}

/**
 * Reads an NDJSON batch of log lines (contract section 12): each non-empty line an object
 * `{ message, timestamp (ms), serviceName?, isStderr?, isSystem? }`; other fields are ignored.
 * Any line that is not one is a 400 naming it, and nothing of the batch is stored; more than
 * MAX_LOG_BATCH_LINES lines is a 413. Text the databases cannot hold (NUL, lone surrogates) is
 * replaced, as a terminal would show it, rather than refused.
 */
export function parseLogBatch(body: unknown): StoredLogInput[] {
  if (typeof body !== 'string') {
    throw badInput('body must be NDJSON log lines (content type application/x-ndjson)');
  }
  const lines: StoredLogInput[] = [];
  let lineNumber = 0;
  for (const text of body.split('\n')) {
    lineNumber += 1;
    if (text.trim() === '') continue;
    if (lines.length === MAX_LOG_BATCH_LINES) {
      throw tooLarge(`more than ${MAX_LOG_BATCH_LINES} log lines in one batch`);
    }
    lines.push(parseLine(text, lineNumber));
  }
  if (lines.length === 0) throw badInput('no log lines in the body');
  return lines;
}

function parseLine(text: string, lineNumber: number): StoredLogInput {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badInput(`line ${lineNumber}: not JSON`); // the parser's message would echo the line
  }
  const bad = (what: string) => badInput(`line ${lineNumber}: ${what}`);
  if (!isPlainObject(value)) throw bad('must be an object');
  const { message, timestamp, serviceName, isStderr, isSystem } = value;
  if (typeof message !== 'string') throw bad('message must be a string');
  if (message.length > MAX_LOG_MESSAGE_LENGTH) {
    throw bad(`message longer than ${MAX_LOG_MESSAGE_LENGTH} characters`);
  }
  if (
    typeof timestamp !== 'number' ||
    !Number.isFinite(timestamp) ||
    timestamp < 0 ||
    timestamp > MAX_TIMESTAMP_MS
  ) {
    throw bad('timestamp must be a time in ms since 1970');
  }
  if (serviceName !== undefined && serviceName !== null && typeof serviceName !== 'string') {
    throw bad('serviceName must be a string');
  }
  if (typeof serviceName === 'string' && serviceName.length > MAX_SERVICE_NAME_LENGTH) {
    throw bad(`serviceName longer than ${MAX_SERVICE_NAME_LENGTH} characters`);
  }
  for (const [name, flag] of [
    ['isStderr', isStderr],
    ['isSystem', isSystem],
  ] as const) {
    if (flag !== undefined && typeof flag !== 'boolean') throw bad(`${name} must be true or false`);
  }
  return {
    message: storable(message),
    timestamp: Math.round(timestamp),
    serviceName: typeof serviceName === 'string' && serviceName !== '' ? storable(serviceName) : null,
    isStderr: isStderr === true,
    isSystem: isSystem === true,
  };
}

/** NUL and unpaired surrogates (which neither PostgreSQL text nor UTF-8 can hold) become U+FFFD. */
function storable(text: string): string {
  return text.replace(UNSTORABLE, '\ufffd');
}

// eslint-disable-next-line no-control-regex
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
