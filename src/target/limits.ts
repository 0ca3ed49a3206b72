/**
 * Size and shape caps on a target document, checked before anything else reads it.
 *
 * Validation ignores what it does not know (unknown top-level fields, unknown config keys,
 * unsupported composition keys), so without a cap a document can carry a value that validation
 * never looks at but that breaks everything after it: a value nested 200,000 deep makes
 * JSON.stringify overflow the stack when the accepted target is persisted, and a huge one eats
 * memory on every state report. A real target is about ten levels deep and a few KiB, so both
 * caps leave generous room.
 *
 * The walk is iterative (an explicit stack), so the check itself cannot overflow the stack, and it
 * stops at the first breach, so its time is bounded by the caps rather than by the input: a
 * shared sub-object referenced many times or a cycle is caught by the byte or depth count.
 */
import { TargetValidationError, join } from './fields.js';

/** Deepest nesting of objects and arrays a target document may have (the document itself is level 1). */
export const MAX_TARGET_DEPTH = 64;
/** Largest target document, as UTF-8 bytes of its JSON text. */
export const MAX_TARGET_BYTES = 4 * 1024 * 1024;

interface Pending {
  value: unknown;
  depth: number;
  /** The node this one sits in, and its key there: the path is built only for an error. */
  parent?: Pending;
  key?: string | number;
}

/**
 * Throws TargetValidationError when `document` is nested deeper than MAX_TARGET_DEPTH, is larger
 * than MAX_TARGET_BYTES as JSON, or holds a value JSON cannot carry. `path` prefixes error paths.
 */
export function checkTargetLimits(document: unknown, path = ''): void {
  let bytes = 0;
  const stack: Pending[] = [{ value: document, depth: 1 }];
  const overBudget = (): void => {
    if (bytes > MAX_TARGET_BYTES) {
      throw new TargetValidationError(
        path,
        `the target document is larger than ${MAX_TARGET_BYTES / (1024 * 1024)} MiB of JSON ` +
          `(MAX_TARGET_BYTES); nothing of it is applied`,
      );
    }
  };
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    bytes += scalarBytes(value, () => pathOf(node, path));
    if (typeof value === 'object' && value !== null) {
      if (node.depth > MAX_TARGET_DEPTH) {
        throw new TargetValidationError(
          pathOf(node, path),
          `the target document is nested deeper than ${MAX_TARGET_DEPTH} levels (MAX_TARGET_DEPTH); ` +
            `nothing of it is applied`,
        );
      }
      const depth = node.depth + 1;
      if (Array.isArray(value)) {
        bytes += 2 + Math.max(0, value.length - 1);
        overBudget();
        for (let i = value.length - 1; i >= 0; i--)
          stack.push({ value: value[i], depth, parent: node, key: i });
      } else {
        const entries = Object.entries(value).filter(([, v]) => v !== undefined);
        bytes += 2 + Math.max(0, entries.length - 1);
        for (const [key, v] of entries) {
          // A key too long for the budget is refused before it is measured (measuring copies it).
          bytes += key.length > MAX_TARGET_BYTES ? key.length : jsonStringBytes(key) + 1;
          overBudget();
          stack.push({ value: v, depth, parent: node, key });
        }
      }
    }
    overBudget();
  }
}

/** Bytes of a scalar's JSON text (0 for objects and arrays, which the walk counts itself). */
function scalarBytes(value: unknown, where: () => string): number {
  switch (typeof value) {
    case 'string':
      // Longer than the whole budget: over it without copying the string to measure it.
      return value.length > MAX_TARGET_BYTES ? value.length : jsonStringBytes(value);
    case 'number':
      return Number.isFinite(value) ? String(value).length : 4; // JSON writes NaN and Infinity as null
    case 'boolean':
      return value ? 4 : 5;
    case 'undefined':
      return 4; // only reached inside arrays, where JSON writes null
    case 'object':
      return value === null ? 4 : 0;
    default:
      // bigint, symbol, function: never in a parsed body; a caller that builds one is told so.
      throw new TargetValidationError(where(), `a ${typeof value} is not a JSON value`);
  }
}

/** Characters JSON.stringify escapes (quote, backslash, control characters, surrogates). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is looked for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonStringBytes(text: string): number {
  // The common case without copying: a string with nothing to escape is itself in quotes.
  if (!NEEDS_ESCAPE.test(text)) return Buffer.byteLength(text) + 2;
  return Buffer.byteLength(JSON.stringify(text));
}

/** The path of a node, with the middle left out when it is very deep (the error names the depth). */
function pathOf(node: Pending, prefix: string): string {
  const keys: Array<string | number> = [];
  for (let at: Pending | undefined = node; at?.key !== undefined; at = at.parent) keys.push(at.key);
  keys.reverse();
  const joinAll = (start: string, parts: Array<string | number>) =>
    parts.reduce<string>((path, key) => join(path, key), start);
  if (keys.length <= 12) return joinAll(prefix, keys);
  const tail = joinAll('', keys.slice(-3));
  return `${joinAll(prefix, keys.slice(0, 6))}...${tail.startsWith('[') ? '' : '.'}${tail}`;
}
