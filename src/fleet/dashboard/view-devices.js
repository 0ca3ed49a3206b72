// @ts-check
/**
 * A fleet's devices: release, status, download progress, what blocks them (update locks with
 * since and deadline, rollback reasons, a rejected target, a closed update window), last seen
 * and tags. A filter box narrows the list without reading again.
 */
import { enc, getJson } from './api.js';
import { el } from './dom.js';
import { fullTime, relativeTime, shortCommit, tone } from './format.js';
import { liveView } from './live-view.js';

/** @typedef {import('../api-types.js').DeviceView} DeviceView */
/** @typedef {import('../api-types.js').FleetSummary} FleetSummary */

/**
 * @param {import('./main.js').ViewContext} ctx
 * @param {string} fleet
 */
export function showDevices(ctx, fleet) {
  const region = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const filter = /** @type {HTMLInputElement} */ (
    el('input', {
      type: 'search',
      id: 'device-filter',
      placeholder: 'Filter: name, uuid, status, tag',
      'aria-label': 'Filter devices',
    })
  );
  ctx.view.replaceChildren(fleetHeading(fleet, 'devices'), el('div', { class: 'toolbar' }, filter), region);
  const view = liveView(ctx, {
    region,
    fleet,
    load: async (signal) => {
      const [summary, devices] = await Promise.all([
        /** @type {Promise<FleetSummary>} */ (getJson(ctx.token, `/v1/fleets/${enc(fleet)}`, signal)),
        /** @type {Promise<DeviceView[]>} */ (getJson(ctx.token, `/v1/devices?fleet=${enc(fleet)}`, signal)),
      ]);
      return { summary, devices };
    },
    render: (data, now) => renderDevices(data.summary, data.devices, filter.value.trim().toLowerCase(), now),
  });
  filter.addEventListener('input', view.redraw);
}

/**
 * The fleet's title and its two tabs.
 * @param {string} fleet
 * @param {'devices' | 'rollout'} active
 */
export function fleetHeading(fleet, active) {
  const tab = (/** @type {string} */ label, /** @type {string} */ href, /** @type {boolean} */ on) =>
    el('a', { href, class: on ? 'tab on' : 'tab', 'aria-current': on ? 'page' : null }, label);
  return el(
    'div',
    { class: 'heading' },
    el('h1', {}, fleet),
    el(
      'nav',
      { class: 'tabs' },
      tab('Devices', `#/fleet/${enc(fleet)}`, active === 'devices'),
      tab('Rollout', `#/fleet/${enc(fleet)}/rollout`, active === 'rollout'),
    ),
  );
}

/** @param {DeviceView} device */
function statusOf(device) {
  return device.updateStatus ?? device.status ?? 'unknown';
}

/**
 * @param {FleetSummary} summary
 * @param {DeviceView[]} devices
 * @param {string} filter lower case; '' shows every device
 * @param {number} now
 */
function renderDevices(summary, devices, filter, now) {
  const counts = new Map();
  for (const device of devices) counts.set(statusOf(device), (counts.get(statusOf(device)) ?? 0) + 1);
  const shown = filter === '' ? devices : devices.filter((device) => searchText(device).includes(filter));
  return el(
    'div',
    {},
    el(
      'p',
      { class: 'summary', id: 'device-summary' },
      el('span', {}, 'Target ', el('strong', { class: 'mono' }, shortCommit(summary.targetRelease?.commit))),
      el('span', {}, `${devices.length} devices`),
      [...counts].map(([status, count]) =>
        el('span', { class: `badge ${tone(status)}` }, `${count} ${status}`),
      ),
      shown.length === devices.length ? null : el('span', { class: 'muted' }, `${shown.length} shown`),
    ),
    devices.length === 0
      ? el('p', { class: 'notice' }, 'No devices have registered with this fleet yet.')
      : el(
          'table',
          { class: 'list devices', id: 'devices' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ['Device', 'Release', 'Status', 'Progress', 'Blocked by', 'Last seen', 'Tags'].map((title) =>
                el('th', {}, title),
              ),
            ),
          ),
          el(
            'tbody',
            {},
            shown.map((device) => deviceRow(device, now)),
          ),
        ),
  );
}

/** @param {DeviceView} device */
function searchText(device) {
  const tags = Object.entries(device.tags).map(([key, value]) => `${key}=${value}`);
  return [device.name, device.uuid, statusOf(device), ...tags].join(' ').toLowerCase();
}

/**
 * @param {DeviceView} device
 * @param {number} now
 */
function deviceRow(device, now) {
  const status = statusOf(device);
  const target = device.targetRelease?.commit ?? null;
  const moving = target !== null && device.reportedRelease !== target;
  return el(
    'tr',
    { 'data-uuid': device.uuid, 'data-status': status },
    el(
      'td',
      { 'data-label': 'Device' },
      el(
        'a',
        { href: `#/fleet/${enc(device.fleet)}/device/${enc(device.uuid)}`, title: `logs of ${device.uuid}` },
        device.name,
      ),
      // Agents name themselves after their uuid's start: the uuid line would only repeat it.
      device.uuid.startsWith(device.name)
        ? null
        : el('div', { class: 'mono small muted', title: device.uuid }, device.uuid.slice(0, 8)),
    ),
    el(
      'td',
      { 'data-label': 'Release', class: 'mono' },
      shortCommit(device.reportedRelease),
      moving ? el('span', { class: 'muted', title: 'its target' }, ` → ${shortCommit(target)}`) : null,
      device.pinned ? el('span', { class: 'badge idle' }, 'pinned') : null,
    ),
    el(
      'td',
      { 'data-label': 'Status', 'data-field': 'status' },
      el('span', { class: `badge ${tone(status)}` }, status),
      device.rollout
        ? el(
            'div',
            { class: 'small muted' },
            `wave ${device.rollout.wave}/${device.rollout.waves}${device.rollout.opened ? '' : ' (waiting)'}`,
          )
        : null,
    ),
    el('td', { 'data-label': 'Progress' }, progress(device, status)),
    el('td', { 'data-label': 'Blocked by', 'data-field': 'blockers' }, blockers(device, now)),
    el(
      'td',
      { 'data-label': 'Last seen', title: fullTime(device.lastSeen) },
      relativeTime(device.lastSeen, now),
    ),
    el(
      'td',
      { 'data-label': 'Tags' },
      Object.entries(device.tags).map(([key, value]) => el('span', { class: 'tag' }, `${key}=${value}`)),
    ),
  );
}

/**
 * @param {DeviceView} device
 * @param {string} status
 */
function progress(device, status) {
  if (device.downloadProgress === null || status !== 'downloading') return null;
  return el(
    'span',
    { class: 'progress' },
    el('progress', { max: 100, value: device.downloadProgress }),
    ` ${device.downloadProgress}%`,
  );
}

/**
 * Everything that keeps a device from its target, each on a line of its own.
 * @param {DeviceView} device
 * @param {number} now
 */
function blockers(device, now) {
  const lines = device.updateLocks.map((lock) =>
    el(
      'div',
      { class: 'lock' },
      el('span', { class: 'badge warn' }, 'lock'),
      ' ',
      el('code', {}, lock.path),
      lock.since
        ? el(
            'span',
            { class: 'small muted', title: fullTime(lock.since) },
            ` since ${relativeTime(lock.since, now)}`,
          )
        : null,
      lock.deadline
        ? el(
            'span',
            { class: 'small', title: fullTime(lock.deadline) },
            `, overridden ${relativeTime(lock.deadline, now)}`,
          )
        : null,
    ),
  );
  if (device.rollbackReason) {
    lines.push(
      el(
        'div',
        { class: 'reason' },
        el('span', { class: 'badge bad' }, failureLabel(device)),
        ' ',
        device.rollbackReason,
      ),
    );
  }
  if (device.targetError) {
    lines.push(
      el(
        'div',
        { class: 'reason' },
        el('span', { class: 'badge bad' }, 'target refused'),
        ' ',
        device.targetError,
      ),
    );
  }
  if (device.updateWindowOpensAt) {
    lines.push(
      el(
        'div',
        { title: fullTime(device.updateWindowOpensAt) },
        `update window opens ${relativeTime(device.updateWindowOpensAt, now)}`,
      ),
    );
  }
  return lines;
}

/** @param {DeviceView} device */
function failureLabel(device) {
  return device.updateStatus === 'unhealthy' ? 'unhealthy' : 'rolled back';
}
