/**
 * Environment variables and labels end up in the container's config, where some characters
 * cannot go: Docker passes each variable to the process as one `NAME=value` C string, so a NUL
 * anywhere or an `=` in the name cannot be passed, and a line break in a name or label key is
 * never what the author meant. Accepted, such a target would only fail later, at container
 * create or start, service by service; rejecting it here names the field and keeps what runs.
 */
import { TargetValidationError, join } from './fields.js';

const LINE_BREAK = /[\n\r]/;

function describe(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
}

/** Returns `environment` unchanged, or throws naming the first bad variable. */
export function checkEnvironment(environment: Record<string, string>, path: string): Record<string, string> {
  for (const [name, value] of Object.entries(environment)) {
    const at = join(path, name);
    const bad = (why: string): never => {
      throw new TargetValidationError(at, `variable name ${describe(name)} ${why}`);
    };
    if (name === '') bad('is empty');
    if (name.includes('\0')) bad('contains a NUL character');
    if (LINE_BREAK.test(name)) bad('contains a line break');
    if (name.includes('=')) bad('contains "="');
    if (value.includes('\0')) {
      throw new TargetValidationError(at, 'the value contains a NUL character, which Docker cannot pass');
    }
  }
  return environment;
}

/** Returns `labels` unchanged, or throws naming the first bad label. */
export function checkLabels(labels: Record<string, string>, path: string): Record<string, string> {
  for (const [key, value] of Object.entries(labels)) {
    const at = join(path, key);
    if (key === '') throw new TargetValidationError(at, 'a label key is empty');
    if (key.includes('\0'))
      throw new TargetValidationError(at, `label key ${describe(key)} contains a NUL character`);
    if (LINE_BREAK.test(key))
      throw new TargetValidationError(at, `label key ${describe(key)} contains a line break`);
    if (value.includes('\0')) throw new TargetValidationError(at, 'the label value contains a NUL character');
  }
  return labels;
}
