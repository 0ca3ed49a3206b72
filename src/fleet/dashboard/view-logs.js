// @ts-check
/**
 * A device's log: its newest lines, then new ones as they are stored (long polls of
 * `GET /v1/devices/:uuid/logs?after=<last>&wait=...`; each answers as soon as a line comes).
 */
import { ApiError, enc, getJson, Unauthorized } from './api.js';
import { pause } from './change-stream.js';
import { el } from './dom.js';
import { clockTime } from './format.js';

/** @typedef {import('../api-types.js').DeviceLogPage} DeviceLogPage */
/** @typedef {import('../api-types.js').DeviceLogEntry} DeviceLogEntry */

const FIRST_LINES = 200;
/** Lines kept on the page; the oldest go first. */
const KEPT_LINES = 2000;
/** Each follow request waits up to this long for a line (the backend allows 30 s). */
const WAIT_MS = 25_000;
const RETRY_MS = 3_000;

/**
 * @param {import('./main.js').ViewContext} ctx
 * @param {string} fleet
 * @param {string} uuid
 */
export function showLogs(ctx, fleet, uuid) {
  const lines = el('ol', { class: 'log', id: 'log-lines', 'aria-label': 'log lines' });
  const box = el('div', { class: 'log-box' }, lines);
  const status = el('p', { class: 'muted small', id: 'log-status' }, 'Loading…');
  ctx.view.replaceChildren(
    el(
      'div',
      { class: 'heading' },
      el('h1', {}, 'Logs ', el('span', { class: 'mono small' }, uuid)),
      el('nav', { class: 'tabs' }, el('a', { class: 'tab', href: `#/fleet/${enc(fleet)}` }, `← ${fleet}`)),
    ),
    status,
    box,
  );
  void follow(ctx, uuid, lines, box, status);
}

/**
 * @param {import('./main.js').ViewContext} ctx
 * @param {string} uuid
 * @param {HTMLElement} list
 * @param {HTMLElement} box
 * @param {HTMLElement} status
 */
async function follow(ctx, uuid, list, box, status) {
  const base = `/v1/devices/${enc(uuid)}/logs`;
  /** @type {number | undefined} */
  let after;
  while (!ctx.signal.aborted) {
    try {
      const query = after === undefined ? `?tail=${FIRST_LINES}` : `?after=${after}&wait=${WAIT_MS}`;
      const page = /** @type {DeviceLogPage} */ (await getJson(ctx.token, base + query, ctx.signal));
      after = page.last;
      ctx.problem(null);
      ctx.setLive(true);
      append(list, box, page.lines);
      status.textContent =
        list.childElementCount === 0 ? 'No lines yet: waiting for the device to send some.' : '';
    } catch (err) {
      if (ctx.signal.aborted) return;
      if (err instanceof Unauthorized) return ctx.signOut('The backend refused the token; sign in again.');
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
        status.textContent = err.message;
        return;
      }
      ctx.setLive(false);
      ctx.problem(`Could not read the log (${err instanceof Error ? err.message : String(err)}); retrying.`);
      await pause(RETRY_MS, ctx.signal);
    }
  }
}

/**
 * Adds lines at the end, keeps the view at the bottom if it was there, and drops the oldest
 * beyond KEPT_LINES.
 * @param {HTMLElement} list
 * @param {HTMLElement} box
 * @param {DeviceLogEntry[]} entries
 */
function append(list, box, entries) {
  if (entries.length === 0) return;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const fragment = document.createDocumentFragment();
  for (const entry of entries) {
    const kind = entry.isSystem ? 'system' : entry.isStderr ? 'stderr' : 'stdout';
    fragment.appendChild(
      el(
        'li',
        { class: `line ${kind}`, 'data-id': entry.id },
        el('time', { datetime: new Date(entry.timestamp).toISOString() }, clockTime(entry.timestamp)),
        el('span', { class: 'service' }, entry.isSystem ? 'bosun' : (entry.serviceName ?? '')),
        el('span', { class: 'message' }, entry.message),
      ),
    );
  }
  list.appendChild(fragment);
  while (list.childElementCount > KEPT_LINES) list.firstElementChild?.remove();
  if (atBottom) box.scrollTop = box.scrollHeight;
}
