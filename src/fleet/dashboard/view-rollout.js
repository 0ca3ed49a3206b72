// @ts-check
/** The fleet's current rollout: its state, settings, each wave's tally and the first failures. */
import { enc, getJson } from './api.js';
import { el } from './dom.js';
import { duration, fullTime, relativeTime, shortCommit, tone } from './format.js';
import { liveView } from './live-view.js';
import { fleetHeading } from './view-devices.js';

/** @typedef {import('../api-types.js').RolloutView} RolloutView */
/** @typedef {import('../api-types.js').WaveView} WaveView */

/**
 * @param {import('./main.js').ViewContext} ctx
 * @param {string} fleet
 */
export function showRollout(ctx, fleet) {
  const region = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  ctx.view.replaceChildren(fleetHeading(fleet, 'rollout'), region);
  liveView(ctx, {
    region,
    fleet,
    load: (signal) =>
      /** @type {Promise<RolloutView>} */ (getJson(ctx.token, `/v1/fleets/${enc(fleet)}/rollout`, signal)),
    render: renderRollout,
  });
}

/**
 * @param {RolloutView} rollout
 * @param {number} now
 */
function renderRollout(rollout, now) {
  const only = Object.entries(rollout.only).map(([key, value]) => `${key}=${value}`);
  /** @type {Array<[string, import('./dom.js').Child]>} */
  const facts = [
    ['Release', el('span', { class: 'mono' }, shortCommit(rollout.release.commit))],
    ['Previous', el('span', { class: 'mono' }, shortCommit(rollout.previousRelease?.commit))],
    ['Waves', rollout.waveSpec],
    ['Wave wait', duration(rollout.waveWaitMs)],
    ['Max failures', rollout.maxFailures],
    ['Only', only.length === 0 ? 'every unpinned device' : only.join(', ')],
    ['Started', el('span', { title: fullTime(rollout.createdAt) }, relativeTime(rollout.createdAt, now))],
    ['Changed', el('span', { title: fullTime(rollout.updatedAt) }, relativeTime(rollout.updatedAt, now))],
  ];
  if (rollout.nextCheckAt) facts.push(['Next wave', relativeTime(rollout.nextCheckAt, now)]);
  return el(
    'div',
    { id: 'rollout', 'data-state': rollout.state },
    el(
      'p',
      { class: 'summary' },
      el('span', { class: `badge ${tone(rollout.state)}`, id: 'rollout-state' }, rollout.state),
      rollout.reason ? el('span', {}, rollout.reason) : null,
      el(
        'span',
        { class: 'muted' },
        `rollout ${rollout.id}, ${rollout.openedWaves} of ${rollout.waves.length} waves opened`,
      ),
    ),
    el(
      'dl',
      { class: 'facts' },
      facts.map(([term, value]) => [el('dt', {}, term), el('dd', {}, value)]),
    ),
    el(
      'table',
      { class: 'list waves', id: 'waves' },
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          ['Wave', 'State', 'Devices', 'Done', 'Failed', 'Pending', ''].map((title) => el('th', {}, title)),
        ),
      ),
      el('tbody', {}, rollout.waves.map(waveRow)),
    ),
    rollout.failures.length === 0
      ? null
      : el(
          'section',
          {},
          el('h2', {}, 'Failed devices'),
          el(
            'ul',
            { class: 'failures' },
            rollout.failures.map((failure) =>
              el(
                'li',
                {},
                el(
                  'a',
                  { class: 'mono', href: `#/fleet/${enc(rollout.fleet)}/device/${enc(failure.uuid)}` },
                  failure.uuid.slice(0, 8),
                ),
                ` wave ${failure.wave}: ${failure.reason}`,
              ),
            ),
          ),
        ),
  );
}

/** @param {WaveView} wave */
function waveRow(wave) {
  const part = (/** @type {number} */ n) => (wave.devices === 0 ? 0 : (100 * n) / wave.devices);
  return el(
    'tr',
    { 'data-wave': wave.wave, 'data-state': wave.state },
    el('td', { 'data-label': 'Wave' }, wave.wave),
    el('td', { 'data-label': 'State' }, el('span', { class: `badge ${tone(wave.state)}` }, wave.state)),
    el(
      'td',
      { 'data-label': 'Devices', class: 'num' },
      wave.devices,
      wave.devices === wave.size ? null : el('span', { class: 'muted' }, ` of ${wave.size}`),
    ),
    el('td', { 'data-label': 'Done', class: 'num' }, wave.done),
    el('td', { 'data-label': 'Failed', class: 'num' }, wave.failed),
    el('td', { 'data-label': 'Pending', class: 'num' }, wave.pending),
    el(
      'td',
      { class: 'bar-cell' },
      el(
        'div',
        {
          class: 'bar',
          role: 'img',
          'aria-label': `${wave.done} done, ${wave.failed} failed of ${wave.devices}`,
        },
        el('span', { class: 'done', style: { width: `${part(wave.done)}%` } }),
        el('span', { class: 'failed', style: { width: `${part(wave.failed)}%` } }),
      ),
    ),
  );
}
