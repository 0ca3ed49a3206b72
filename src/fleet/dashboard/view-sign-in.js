// @ts-check
/** The sign-in page: the manager token, checked against the backend before it is kept. */
import { ApiError, request, Unauthorized } from './api.js';
import { el } from './dom.js';

/**
 * @param {HTMLElement} view
 * @param {string} message why the page is shown again ('' the first time)
 * @param {(token: string) => void} onSignedIn
 */
export function showSignIn(view, message, onSignedIn) {
  const input = /** @type {HTMLInputElement} */ (
    el('input', {
      id: 'token',
      name: 'token',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
      autofocus: true,
    })
  );
  const status = el(
    'p',
    { id: 'sign-in-message', class: message ? 'problem' : 'muted', role: 'status' },
    message,
  );
  const button = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit' }, 'Sign in'));
  const form = el(
    'form',
    { id: 'sign-in', class: 'card sign-in', onsubmit: submit },
    el('h1', {}, 'Sign in'),
    el('label', { for: 'token' }, 'Manager token'),
    input,
    el('p', { class: 'muted small' }, 'As printed by bosun fleet serve; kept in this tab only.'),
    button,
    status,
  );
  view.replaceChildren(form);
  input.focus();

  /** @param {Event} event */
  async function submit(event) {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    status.className = 'muted';
    status.textContent = 'Checking…';
    try {
      await request(token, '/v1/fleets');
      onSignedIn(token);
    } catch (err) {
      status.className = 'problem';
      status.textContent =
        err instanceof Unauthorized
          ? 'That token was refused.'
          : err instanceof ApiError
            ? err.message
            : `Could not reach the backend: ${err instanceof Error ? err.message : String(err)}`;
      input.select();
    } finally {
      button.disabled = false;
    }
  }
}
