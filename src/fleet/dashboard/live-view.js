// @ts-check
/**
 * A page region that shows what `load` reads, and reads it again whenever the backend says the
 * fleet changed (change-stream.js): no reloads. Reads never overlap: changes that come during
 * a read make one more read after it. Ages ("12 s ago") are redrawn from the last read.
 */
import { ApiError, Unauthorized } from './api.js';
import { followChanges, pause } from './change-stream.js';
import { el } from './dom.js';

/** Redraw ages this often without reading anything. */
const REDRAW_MS = 10_000;
/** After a failed read, try again this soon even without a change. */
const RETRY_MS = 5_000;
const MAX_REST_MS = 2_000;

/** @typedef {import('./main.js').ViewContext} ViewContext */

/**
 * @template T
 * @param {ViewContext} ctx
 * @param {{
 *   region: HTMLElement,
 *   fleet?: string,
 *   load: (signal: AbortSignal) => Promise<T>,
 *   render: (data: T, now: number) => Node,
 * }} options
 * @returns {{ redraw: () => void }}
 */
export function liveView(ctx, { region, fleet, load, render }) {
  /** @type {{ data: T } | undefined} */
  let last;
  let reading = false;
  let readAgain = false;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let retry;
  const { signal } = ctx;

  const redraw = () => {
    if (!last || signal.aborted) return;
    region.replaceChildren(render(last.data, Date.now()));
  };

  const read = async () => {
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    clearTimeout(retry);
    try {
      for (;;) {
        readAgain = false;
        const started = performance.now();
        const data = await load(signal);
        last = { data };
        ctx.problem(null);
        redraw();
        if (!readAgain || signal.aborted) break;
        // A large fleet that keeps changing: rest as long as the last read took, so the page
        // reads at most half of the time, however often the backend says "changed".
        await pause(Math.min(performance.now() - started, MAX_REST_MS), signal);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof Unauthorized) return ctx.signOut('The backend refused the token; sign in again.');
      // Not found and the like are the answer (an unknown fleet, no rollout yet): shown in place.
      if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
        region.replaceChildren(el('p', { class: 'notice', role: 'status' }, err.message));
      } else {
        ctx.problem(
          `Could not read from the backend (${err instanceof Error ? err.message : String(err)}); retrying.`,
        );
        retry = setTimeout(read, RETRY_MS);
      }
    } finally {
      reading = false;
    }
  };

  const ticker = setInterval(redraw, REDRAW_MS);
  signal.addEventListener('abort', () => {
    clearInterval(ticker);
    clearTimeout(retry);
  });
  void followChanges({
    token: ctx.token,
    fleet,
    signal,
    onChange: () => void read(),
    onLive: ctx.setLive,
    onUnauthorized: () => ctx.signOut('The backend refused the token; sign in again.'),
  });
  void read();
  return { redraw };
}
