// @ts-check
/**
 * Reads of the manager API (/v1), every one with the token as `Authorization: Bearer`. The
 * token lives in sessionStorage: it lasts as long as the tab and is never written to disk.
 */

const TOKEN_KEY = 'bosun.managerToken';

/** The backend refused the token (401): the page signs out and asks for it again. */
export class Unauthorized extends Error {}

/** Any other error answer: `code` is the backend's stable error code. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** @param {string | null} token */
export function storeToken(token) {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/**
 * @param {string} token
 * @param {string} path
 * @param {AbortSignal} [signal]
 * @returns {Promise<Response>}
 */
export async function request(token, path, signal) {
  const response = await fetch(path, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    cache: 'no-store',
    signal,
  });
  if (response.status === 401) throw new Unauthorized('the backend refused the token');
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new ApiError(
      response.status,
      typeof body.error === 'string' ? body.error : `HTTP_${response.status}`,
      typeof body.message === 'string' ? body.message : `the backend answered ${response.status}`,
    );
  }
  return response;
}

/**
 * @template T
 * @param {string} token
 * @param {string} path
 * @param {AbortSignal} [signal]
 * @returns {Promise<T>}
 */
export async function getJson(token, path, signal) {
  return (await request(token, path, signal)).json();
}

/** @param {string} part */
export const enc = (part) => encodeURIComponent(part);
