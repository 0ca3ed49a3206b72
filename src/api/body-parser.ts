import type { FastifyInstance } from 'fastify';
import { BadRequestError } from './errors.js';

const FORM_BODY = /^[^=&]+=[^&]*(?:&[^=&]+=[^&]*)*$/;

/**
 * One parser for every content type, because device apps post however their tools do:
 * `curl -X POST` (no body, no type), `curl -d '{"force":true}'` (JSON labelled
 * application/x-www-form-urlencoded), `curl -d force=1` (a real form, which balena's express
 * stack also accepted), text/plain, or proper application/json.
 *
 * - an empty or blank body is `{}`;
 * - any body that parses as JSON is that JSON (the route's schema then checks its shape);
 * - a urlencoded body of `key=value` pairs is an object of strings;
 * - anything else is a 400 naming the problem, never a 500.
 */
export function parseRequestBody(contentType: string | undefined, text: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (isFormType(contentType) && FORM_BODY.test(text.trim())) {
      return Object.fromEntries(new URLSearchParams(text.trim()));
    }
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

function isFormType(contentType: string | undefined): boolean {
  return (contentType ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** Replace fastify's per-type parsers with parseRequestBody for every type, including none. */
export function installBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    try {
      done(null, parseRequestBody(request.headers['content-type'], body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // A POST with no body at all skips parsing: give the route schemas an empty object to check.
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined && request.method !== 'GET' && request.method !== 'HEAD') {
      request.body = {};
    }
  });
}
