// @ts-check
/**
 * The dashboard of `bosun fleet serve`: a hash router over a few views. Each view gets a
 * context whose signal aborts when the page changes, which ends its reads, its change stream
 * and its log follow.
 *
 *   #/                          fleets
 *   #/fleet/NAME                the fleet's devices
 *   #/fleet/NAME/rollout        the fleet's rollout and its waves
 *   #/fleet/NAME/device/UUID    a device's logs
 */
import { storedToken, storeToken } from './api.js';
import { el } from './dom.js';
import { showDevices } from './view-devices.js';
import { showFleets } from './view-fleets.js';
import { showLogs } from './view-logs.js';
import { showRollout } from './view-rollout.js';
import { showSignIn } from './view-sign-in.js';

/**
 * @typedef {{
 *   token: string,
 *   signal: AbortSignal,
 *   view: HTMLElement,
 *   setLive: (live: boolean) => void,
 *   problem: (message: string | null) => void,
 *   signOut: (message?: string) => void,
 * }} ViewContext
 */

const view = /** @type {HTMLElement} */ (document.getElementById('view'));
const crumbs = /** @type {HTMLElement} */ (document.getElementById('crumbs'));
const live = /** @type {HTMLElement} */ (document.getElementById('live'));
const signOutButton = /** @type {HTMLButtonElement} */ (document.getElementById('sign-out'));

/** @type {AbortController | undefined} */
let current;
/** Set by signOut, shown once by the sign-in page. */
let signInMessage = '';

/** @param {boolean} on */
function setLive(on) {
  live.dataset.live = on ? 'on' : 'off';
  live.textContent = on ? 'live' : 'reconnecting…';
}

/** @param {string} [message] */
function signOut(message = '') {
  storeToken(null);
  signInMessage = message;
  route();
}

/** @param {string | null} message */
function problem(message) {
  let banner = document.getElementById('problem');
  if (message === null) return banner?.remove();
  if (!banner) {
    banner = el('p', { id: 'problem', class: 'problem', role: 'alert' });
    view.before(banner);
  }
  banner.textContent = message;
}

/** @param {Array<[string, string | null]>} trail label and link (null: where you are) */
function setCrumbs(trail) {
  crumbs.replaceChildren(
    ...trail.map(([label, href]) =>
      href === null ? el('span', { 'aria-current': 'page' }, label) : el('a', { href }, label),
    ),
  );
}

function route() {
  current?.abort();
  current = new AbortController();
  problem(null);
  const token = storedToken();
  signOutButton.hidden = token === null;
  if (token === null) {
    live.dataset.live = 'off';
    live.textContent = 'signed out';
    setCrumbs([]);
    const message = signInMessage;
    signInMessage = '';
    return showSignIn(view, message, (accepted) => {
      storeToken(accepted);
      route();
    });
  }
  /** @type {ViewContext} */
  const ctx = { token, signal: current.signal, view, setLive, problem, signOut };
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const fleetHref = (/** @type {string} */ name) => `#/fleet/${encodeURIComponent(name)}`;
  if (parts[0] === 'fleet' && parts[1]) {
    const fleet = parts[1];
    if (parts[2] === 'rollout') {
      setCrumbs([
        ['Fleets', '#/'],
        [fleet, fleetHref(fleet)],
        ['Rollout', null],
      ]);
      return showRollout(ctx, fleet);
    }
    if (parts[2] === 'device' && parts[3]) {
      setCrumbs([
        ['Fleets', '#/'],
        [fleet, fleetHref(fleet)],
        [parts[3].slice(0, 8), null],
      ]);
      return showLogs(ctx, fleet, parts[3]);
    }
    setCrumbs([
      ['Fleets', '#/'],
      [fleet, null],
    ]);
    return showDevices(ctx, fleet);
  }
  setCrumbs([['Fleets', null]]);
  return showFleets(ctx);
}

signOutButton.addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', route);
route();
