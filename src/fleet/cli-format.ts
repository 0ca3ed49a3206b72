import type { DeviceView, FleetSummary, RolloutView, UpdateLockView } from './api-types.js';

/** Renders rows as left-aligned columns under a header; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, col) =>
    Math.max(title.length, ...rows.map((row) => (row[col] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : '-';
}

/** "12s ago", "5m ago", "3h ago", "2d ago"; "-" for never. */
export function ago(iso: string | null, now: Date): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return iso;
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86400)}d ago`;
}

function releaseCell(device: DeviceView): string {
  const target = device.targetRelease?.commit ?? null;
  const reported = shortCommit(device.reportedRelease);
  const pin = device.pinned ? ' (pinned)' : '';
  if (target && device.reportedRelease !== target) return `${reported} -> ${shortCommit(target)}${pin}`;
  return `${reported}${pin}`;
}

function statusCell(device: DeviceView): string {
  if (device.targetError) return `target rejected: ${device.targetError}`;
  if (device.rollbackReason) return `${device.updateStatus}: ${device.rollbackReason}`;
  if (device.updateStatus === 'scheduled' && device.updateWindowOpensAt) {
    return `scheduled for ${device.updateWindowOpensAt}`;
  }
  return device.updateStatus ?? device.status ?? '-';
}

function lockCell(locks: UpdateLockView[], now: Date): string {
  if (locks.length === 0) return '-';
  return locks
    .map((lock) => {
      const where = lock.service ? `${lock.service}:${lock.path}` : lock.path;
      const held = lock.since ? `${where} since ${ago(lock.since, now)}` : where;
      return lock.deadline ? `${held}, forced at ${lock.deadline}` : held;
    })
    .join(', ');
}

/**
 * The device list. WAVE (the device's wave of its fleet's staged rollout) and TAGS appear only
 * when some listed device has one, so a fleet that uses neither reads as it always did.
 */
export function devicesTable(devices: DeviceView[], now: Date): string {
  if (devices.length === 0) return 'no devices\n';
  const showWave = devices.some((device) => (device.rollout?.waves ?? 0) > 1);
  const showTags = devices.some((device) => Object.keys(device.tags ?? {}).length > 0);
  const header = ['DEVICE', 'FLEET', 'RELEASE', 'STATUS', 'PROGRESS', 'BLOCKED BY', 'LAST SEEN'];
  if (showWave) header.splice(3, 0, 'WAVE');
  if (showTags) header.push('TAGS');
  return table(
    header,
    devices.map((device) => {
      const row = [
        device.uuid,
        device.fleet,
        releaseCell(device),
        statusCell(device),
        device.downloadProgress === null ? '-' : `${device.downloadProgress}%`,
        lockCell(device.updateLocks, now),
        ago(device.lastSeen, now),
      ];
      if (showWave) row.splice(3, 0, waveCell(device));
      if (showTags) row.push(formatTagList(device.tags ?? {}));
      return row;
    }),
  );
}

function waveCell(device: DeviceView): string {
  const rollout = device.rollout;
  if (!rollout) return '-';
  return `${rollout.wave}/${rollout.waves}${rollout.opened ? '' : ' (waiting)'}`;
}

function formatTagList(tags: Record<string, string>): string {
  const text = Object.entries(tags)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
  return text === '' ? '-' : text;
}

/** `3s`, `90s` as `1m30s`, `2h`: a wave wait as a person would write it. */
export function shortDuration(ms: number): string {
  if (ms === 0) return '0';
  if (ms % 1000 !== 0) return `${ms}ms`;
  const parts: string[] = [];
  let seconds = ms / 1000;
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (seconds >= size) {
      parts.push(`${Math.floor(seconds / size)}${unit}`);
      seconds %= size;
    }
  }
  return parts.join('');
}

/** `bosun fleet rollout status`: the rollout, its state (and why it halted), each wave, failures. */
export function rolloutStatusText(view: RolloutView): string {
  const release = `release ${view.release.id} (${shortCommit(view.release.commit)})`;
  const state = view.reason && view.state !== 'running' ? `${view.state}: ${view.reason}` : view.state;
  const options = [
    `waves ${view.waveSpec}`,
    `wave wait ${shortDuration(view.waveWaitMs)}`,
    `max failures ${view.maxFailures}`,
  ];
  if (Object.keys(view.only).length > 0) options.push(`only ${formatTagList(view.only)}`);
  const previous = view.previousRelease
    ? `release ${view.previousRelease.id} (${shortCommit(view.previousRelease.commit)})`
    : 'none';
  const lines = [
    `rollout ${view.id} of ${release} in fleet ${view.fleet}: ${state}`,
    `${options.join(', ')}; previous ${previous}`,
  ];
  if (view.state === 'running' && view.nextCheckAt) lines.push(`next wave opens at ${view.nextCheckAt}`);
  const waves = table(
    ['WAVE', 'DEVICES', 'DONE', 'FAILED', 'PENDING', 'STATE'],
    view.waves.map((wave) => [
      `${wave.wave}/${view.waves.length}`,
      String(wave.devices),
      String(wave.done),
      String(wave.failed),
      String(wave.pending),
      wave.state,
    ]),
  );
  const failures = view.failures.map(
    (failure) => `  ${failure.uuid} (wave ${failure.wave}): ${failure.reason}`,
  );
  return (
    [
      ...lines,
      ...(view.waves.length === 0 ? ['no devices'] : [waves.trimEnd()]),
      ...(failures.length > 0 ? ['failed devices:', ...failures] : []),
    ].join('\n') + '\n'
  );
}

export function fleetsTable(fleets: FleetSummary[]): string {
  if (fleets.length === 0) return 'no fleets\n';
  return table(
    ['FLEET', 'APP ID', 'APP UUID', 'DEVICES', 'TARGET RELEASE'],
    fleets.map((fleet) => [
      fleet.name,
      String(fleet.appId),
      fleet.appUuid,
      String(fleet.deviceCount),
      fleet.targetRelease ? `${fleet.targetRelease.id} (${shortCommit(fleet.targetRelease.commit)})` : '-',
    ]),
  );
}

export function configTable(rows: Array<{ key: string; value: string; source: string }>): string {
  if (rows.length === 0) return 'no config vars\n';
  return table(
    ['KEY', 'VALUE', 'FROM'],
    rows.map((row) => [row.key, row.value, row.source]),
  );
}

/** Where each device of a rollout stands; every device lands in exactly one bucket. */
export interface RolloutSummary {
  total: number;
  onTarget: number;
  failed: number;
  locked: number;
  downloading: number;
  updating: number;
  pending: number;
}

export function summarizeRollout(devices: DeviceView[]): RolloutSummary {
  const summary: RolloutSummary = {
    total: devices.length,
    onTarget: 0,
    failed: 0,
    locked: 0,
    downloading: 0,
    updating: 0,
    pending: 0,
  };
  for (const device of devices) summary[rolloutBucket(device)]++;
  return summary;
}

function rolloutBucket(device: DeviceView): Exclude<keyof RolloutSummary, 'total'> {
  if (device.targetRelease && device.reportedRelease === device.targetRelease.commit) return 'onTarget';
  const failedStatuses = ['rejected', 'aborted', 'rolled back', 'unhealthy'];
  if (device.targetError || failedStatuses.includes(device.updateStatus ?? '')) return 'failed';
  if (device.updateStatus === 'locked' || device.updateLocks.length > 0) return 'locked';
  if (device.updateStatus === 'downloading') return 'downloading';
  if (device.updateStatus === 'downloaded' || device.updateStatus === 'applying changes') return 'updating';
  return 'pending';
}

export function rolloutLine(fleet: string, summary: RolloutSummary): string {
  return (
    `${fleet}: ${summary.onTarget}/${summary.total} on target, ${summary.downloading} downloading, ` +
    `${summary.locked} locked, ${summary.failed} failed, ${summary.updating} updating, ${summary.pending} pending`
  );
}
