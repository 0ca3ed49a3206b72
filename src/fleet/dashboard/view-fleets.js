// @ts-check
/** Every fleet: its target release and device count. */
import { enc, getJson } from './api.js';
import { el } from './dom.js';
import { fullTime, relativeTime, shortCommit } from './format.js';
import { liveView } from './live-view.js';

/** @typedef {import('../api-types.js').FleetSummary} FleetSummary */

/** @param {import('./main.js').ViewContext} ctx */
export function showFleets(ctx) {
  const region = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  ctx.view.replaceChildren(el('h1', {}, 'Fleets'), region);
  liveView(ctx, {
    region,
    load: (signal) => /** @type {Promise<FleetSummary[]>} */ (getJson(ctx.token, '/v1/fleets', signal)),
    render: renderFleets,
  });
}

/**
 * @param {FleetSummary[]} fleets
 * @param {number} now
 */
function renderFleets(fleets, now) {
  if (fleets.length === 0) {
    return el('p', { class: 'notice' }, 'No fleets yet: create one with bosun fleet create NAME.');
  }
  return el(
    'table',
    { class: 'list', id: 'fleets' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        el('th', {}, 'Fleet'),
        el('th', {}, 'Target release'),
        el('th', {}, 'Devices'),
        el('th', {}, 'Created'),
      ),
    ),
    el(
      'tbody',
      {},
      fleets.map((fleet) =>
        el(
          'tr',
          { 'data-fleet': fleet.name },
          el('td', { 'data-label': 'Fleet' }, el('a', { href: `#/fleet/${enc(fleet.name)}` }, fleet.name)),
          el('td', { 'data-label': 'Target', class: 'mono' }, shortCommit(fleet.targetRelease?.commit)),
          el('td', { 'data-label': 'Devices', class: 'num' }, fleet.deviceCount),
          el(
            'td',
            { 'data-label': 'Created', title: fullTime(fleet.createdAt) },
            relativeTime(fleet.createdAt, now),
          ),
        ),
      ),
    ),
  );
}
