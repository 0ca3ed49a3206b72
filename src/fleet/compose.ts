import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { ComposeError, type InputIssue } from './errors.js';
import { readService, type ComposeService, type PathSegment } from './compose-service.js';
import { isPlainObject } from './compose-values.js';

export type { ComposeService } from './compose-service.js';

/** A validated compose file: what a release is made of, before ids are assigned. */
export interface ComposeSpec {
  services: Record<string, ComposeService>;
  volumes: Record<string, Record<string, unknown>>;
}

const TOP_LEVEL_KEYS = new Set(['version', 'name', 'services', 'volumes']);
const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

type Locate = (path: PathSegment[]) => { line: number; col: number } | undefined;

/**
 * Reads a compose file given as YAML text or as an already parsed object. Throws ComposeError
 * listing every problem: YAML syntax errors with line and column, field errors with their path
 * (and line, when the input was text).
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
    if (!TOP_LEVEL_KEYS.has(key) && !key.startsWith('x-')) report([key], 'unsupported top-level key');
  }
  const volumes = readTopLevelVolumes(value.volumes, report);
  const services: Record<string, ComposeService> = {};
  if (!isPlainObject(value.services) || Object.keys(value.services).length === 0) {
    report(['services'], 'required: a map with at least one service');
  } else {
    const serviceNames = new Set(Object.keys(value.services));
    const ctx = { report, serviceNames, volumeNames: new Set(Object.keys(volumes)) };
    for (const [name, raw] of Object.entries(value.services)) {
      if (!SERVICE_NAME.test(name)) {
        report(['services', name], 'service names use letters, digits, ".", "_" and "-"');
        continue;
      }
      const service = readService(name, raw, ctx);
      if (service) services[name] = service;
    }
  }
  if (issues.length > 0) throw new ComposeError(issues);
  return { services, volumes };
}

function readTopLevelVolumes(
  raw: unknown,
  report: (path: PathSegment[], message: string) => void,
): Record<string, Record<string, unknown>> {
  const volumes: Record<string, Record<string, unknown>> = {};
  if (raw === undefined || raw === null) return volumes;
  if (!isPlainObject(raw)) {
    report(['volumes'], 'must be a map of volume names');
    return volumes;
  }
  for (const [name, options] of Object.entries(raw)) {
    if (options === null || options === undefined) volumes[name] = {};
    else if (isPlainObject(options)) volumes[name] = options;
    else report(['volumes', name], 'must be a map of options or empty');
  }
  return volumes;
}
