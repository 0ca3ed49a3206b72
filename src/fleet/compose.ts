import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ComposeError, type InputIssue } from './errors.js';
import { mapService, type ComposeService, type PathSegment } from './compose-service.js';
import { isPlainObject } from './compose-values.js';

export type { ComposeService, PathSegment } from './compose-service.js';

/**
 * A compose file mapped onto the parts of a v3 release, before ids are assigned. Only the compose
 * shape has been checked: the release built from it goes through the device's validation before
 * it is stored (release-check.ts).
 */
export interface ComposeSpec {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
  /** Where a compose path is in the YAML text (undefined for input given as an object). */
  locate: Locate;
}

const TOP_LEVEL_KEYS = new Set(['version', 'name', 'services', 'volumes', 'networks']);

export type Locate = (path: PathSegment[]) => { line: number; col: number } | undefined;

/**
 * Reads a compose file given as YAML text or as an already parsed object. Throws ComposeError
 * listing every problem of its shape: YAML syntax errors with line and column, top-level keys a
 * release cannot carry, services that are not maps.
 */
export function parseCompose(input: unknown): ComposeSpec {
  if (typeof input === 'string') {
    const { value, locate } = parseYaml(input);
    return readComposeObject(value, locate);
  }
  return readComposeObject(input, () => undefined);
}

function parseYaml(text: string): { value: unknown; locate: Locate } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues = new Map<string, InputIssue>();
    for (const err of doc.errors) {
      const pos = lineCounter.linePos(err.pos[0]);
      const issue = { path: '', message: `YAML ${firstLine(err.message)}`, line: pos.line, col: pos.col };
      // The parser may report one fault several times at the same place.
      issues.set(`${issue.line}:${issue.col}:${issue.message}`, issue);
    }
    throw new ComposeError([...issues.values()]);
  }
  return { value: doc.toJS({ maxAliasCount: 100 }), locate: nodeLocator(doc, lineCounter) };
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? message;
}

/** Finds the line of the deepest node that exists along `path` (a missing key points at its parent). */
function nodeLocator(doc: Document, lineCounter: LineCounter): Locate {
  return (path) => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]);
    }
    return undefined;
  };
}

function readComposeObject(value: unknown, locate: Locate): ComposeSpec {
  const issues: InputIssue[] = [];
  const report = (path: PathSegment[], message: string): void => {
    issues.push({ path: path.join('.'), message, ...locate(path) });
  };
  if (!isPlainObject(value)) {
    report([], 'a compose file must be a map with a services key');
    throw new ComposeError(issues);
  }
  for (const key of Object.keys(value)) {
    // secrets, configs and the like have no place in a v3 release: refused, not silently lost.
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-')) report([key], 'unsupported top-level key');
  }
  const volumes = readNamedOptions(value, 'volumes', report);
  const networks = readNamedOptions(value, 'networks', report);
  const services: Array<[string, ComposeService]> = [];
  if (!isPlainObject(value.services) || Object.keys(value.services).length === 0) {
    report(['services'], 'required: a map with at least one service');
  } else {
    for (const [name, raw] of Object.entries(value.services)) {
      const service = mapService(name, raw, report);
      if (service) services.push([name, service]);
    }
  }
  if (issues.length > 0) throw new ComposeError(issues);
  // fromEntries keeps a "__proto__" service an own key, for the device's validation to refuse.
  return { services: Object.fromEntries(services), volumes, networks, locate };
}

/**
 * Top-level `volumes` / `networks`: names to options. Compose writes a volume without options as
 * `name:` (null), which becomes `{}`; names and options are the device's validation to judge.
 */
function readNamedOptions(
  compose: Record<string, unknown>,
  key: 'volumes' | 'networks',
  report: (path: PathSegment[], message: string) => void,
): Record<string, unknown> {
  const raw = compose[key];
  if (raw === undefined || raw === null) return {};
  if (!isPlainObject(raw)) {
    report([key], `must be a map of ${key} names`);
    return {};
  }
  return Object.fromEntries(Object.entries(raw).map(([name, options]) => [name, options ?? {}]));
}
