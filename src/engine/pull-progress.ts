/**
 * Aggregates the Docker engine's per-layer pull events (the JSON lines of POST /images/create)
 * into one PullProgress. Pure: state in, event in, new state out; no clock, no I/O, so recorded
 * event sequences replay exactly in unit tests.
 */
import type { PullProgress } from './types.js';

/** One JSON object of the engine's pull stream. */
export interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

interface LayerState {
  readonly downloadCurrent: number;
  readonly downloadTotal: number;
  /** The download finished (checksum verified or extraction begun). */
  readonly downloaded: boolean;
  /** 0..1 */
  readonly extractFraction: number;
  /** 'Pull complete' or 'Already exists'. */
  readonly done: boolean;
}

export interface PullState {
  readonly image: string;
  readonly layers: Readonly<Record<string, LayerState>>;
  /** The engine sent its closing 'Status: ...' line: the image is in place. */
  readonly finished: boolean;
}

/**
 * A layer's weight split between download and extraction. Downloads dominate on a device's
 * network link; extraction still shows so a big layer does not sit at 100% while it unpacks.
 */
const DOWNLOAD_SHARE = 0.8;

const NEW_LAYER: LayerState = {
  downloadCurrent: 0,
  downloadTotal: 0,
  downloaded: false,
  extractFraction: 0,
  done: false,
};

export function initialPullState(image: string): PullState {
  return { image, layers: {}, finished: false };
}

/** The failure an event reports, if it is an error line (the engine sends them after a 200). */
export function pullEventError(event: PullEvent): string | undefined {
  if (event.error !== undefined) return event.error;
  return event.errorDetail?.message;
}

/** Returns the state after one event; events it does not know leave the state unchanged. */
export function applyPullEvent(state: PullState, event: PullEvent): PullState {
  const status = event.status ?? '';
  if (status.startsWith('Status: ')) return { ...state, finished: true };
  // 'Pulling from <repo>' carries the tag as its id, not a layer.
  if (event.id === undefined || status.startsWith('Pulling from')) return state;
  const layer = state.layers[event.id] ?? NEW_LAYER;
  const next = nextLayerState(layer, status, event.progressDetail ?? {});
  if (next === undefined) return state;
  return { ...state, layers: { ...state.layers, [event.id]: next } };
}

function nextLayerState(
  layer: LayerState,
  status: string,
  detail: { current?: number; total?: number },
): LayerState | undefined {
  switch (status) {
    case 'Pulling fs layer':
    case 'Waiting':
      return layer;
    case 'Downloading':
      return {
        ...layer,
        downloadCurrent: detail.current ?? layer.downloadCurrent,
        downloadTotal: detail.total ?? layer.downloadTotal,
      };
    case 'Verifying Checksum':
    case 'Download complete':
      return { ...layer, downloaded: true, downloadCurrent: layer.downloadTotal };
    case 'Extracting':
      return {
        ...layer,
        downloaded: true,
        downloadCurrent: layer.downloadTotal,
        extractFraction: fraction(detail.current, detail.total),
      };
    case 'Pull complete':
    case 'Already exists':
      return {
        ...layer,
        downloaded: true,
        downloadCurrent: layer.downloadTotal,
        extractFraction: 1,
        done: true,
      };
    default:
      // 'Retrying in N seconds' and anything newer engines add: keep what we know.
      return status.startsWith('Retrying') ? layer : undefined;
  }
}

function fraction(current: number | undefined, total: number | undefined): number {
  if (current === undefined || total === undefined || total <= 0) return 0;
  return Math.min(1, Math.max(0, current / total));
}

function layerFraction(layer: LayerState): number {
  if (layer.done) return 1;
  const download = layer.downloaded ? 1 : fraction(layer.downloadCurrent, layer.downloadTotal);
  return DOWNLOAD_SHARE * download + (1 - DOWNLOAD_SHARE) * layer.extractFraction;
}

/**
 * Each layer weighs the same in `percent`: the engine announces every layer up front but tells a
 * layer's size only once its download starts. 100 means the image is in place, never before.
 */
export function summarisePull(state: PullState): PullProgress {
  const layers = Object.values(state.layers);
  const layersDone = layers.filter((layer) => layer.done).length;
  const bytesTotal = layers.reduce((sum, layer) => sum + layer.downloadTotal, 0);
  const bytesDone = layers.reduce(
    (sum, layer) => sum + Math.min(layer.downloadCurrent, layer.downloadTotal),
    0,
  );
  let percent: number;
  if (state.finished || (layers.length > 0 && layersDone === layers.length)) {
    percent = 100;
  } else if (layers.length === 0) {
    percent = 0;
  } else {
    const sum = layers.reduce((total, layer) => total + layerFraction(layer), 0);
    percent = Math.min(99, Math.floor((100 * sum) / layers.length));
  }
  return { image: state.image, layersTotal: layers.length, layersDone, bytesTotal, bytesDone, percent };
}

/** Replays a whole event sequence: handy for tests and for a final summary. */
export function summariseEvents(image: string, events: readonly PullEvent[]): PullProgress {
  return summarisePull(events.reduce(applyPullEvent, initialPullState(image)));
}
