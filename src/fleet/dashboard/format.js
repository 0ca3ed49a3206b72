// @ts-check
/** How values read on the page: short commits, ages, times, statuses as colours. */

/** @param {string | null | undefined} commit */
export function shortCommit(commit) {
  return commit ? commit.slice(0, 7) : '—';
}

/**
 * "12 s ago", "5 min ago", "3 h ago", "2 d ago"; "in 40 s" for a time to come.
 * @param {string | null | undefined} iso
 * @param {number} now ms
 */
export function relativeTime(iso, now) {
  if (!iso) return '—';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const seconds = Math.round((now - at) / 1000);
  const span = Math.abs(seconds);
  const text =
    span < 60
      ? `${span} s`
      : span < 3600
        ? `${Math.floor(span / 60)} min`
        : span < 86400
          ? `${Math.floor(span / 3600)} h`
          : `${Math.floor(span / 86400)} d`;
  return seconds >= 0 ? `${text} ago` : `in ${text}`;
}

/** @param {string | null | undefined} iso */
export function fullTime(iso) {
  if (!iso) return '';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString();
}

/** @param {number} ms since the epoch */
export function clockTime(ms) {
  const at = new Date(ms);
  const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, '0');
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}

/** Statuses by how they should catch the eye. */
const TONES = /** @type {Record<string, string>} */ ({
  done: 'good',
  complete: 'good',
  settled: 'good',
  downloading: 'busy',
  downloaded: 'busy',
  'applying changes': 'busy',
  running: 'busy',
  open: 'busy',
  locked: 'warn',
  scheduled: 'warn',
  paused: 'warn',
  waiting: 'idle',
  superseded: 'idle',
  aborted: 'bad',
  halted: 'bad',
  rejected: 'bad',
  'rolled back': 'bad',
  unhealthy: 'bad',
});

/** @param {string | null | undefined} status */
export function tone(status) {
  return (status && TONES[status]) || 'idle';
}

/** @param {number} ms */
export function duration(ms) {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}
