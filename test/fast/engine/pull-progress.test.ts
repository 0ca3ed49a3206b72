import { describe, expect, it } from '@jest/globals';
import {
  applyPullEvent,
  initialPullState,
  pullEventError,
  summariseEvents,
  summarisePull,
  type PullEvent,
  type PullState,
} from '../../../src/engine/pull-progress.js';

const IMAGE = '127.0.0.1:5000/bosun-engine-rec/rec:1';

/** Recorded from Docker 20.10.24 pulling a one-layer image from the local registry (bars omitted). */
const ONE_LAYER: PullEvent[] = [
  { status: 'Pulling from bosun-engine-rec/rec', id: '1' },
  { status: 'Pulling fs layer', progressDetail: {}, id: 'af1854f7eab9' },
  { status: 'Downloading', progressDetail: { current: 36445, total: 1068961 }, id: 'af1854f7eab9' },
  { status: 'Verifying Checksum', progressDetail: {}, id: 'af1854f7eab9' },
  { status: 'Download complete', progressDetail: {}, id: 'af1854f7eab9' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 1068961 }, id: 'af1854f7eab9' },
  { status: 'Extracting', progressDetail: { current: 1068961, total: 1068961 }, id: 'af1854f7eab9' },
  { status: 'Extracting', progressDetail: { current: 1068961, total: 1068961 }, id: 'af1854f7eab9' },
  { status: 'Pull complete', progressDetail: {}, id: 'af1854f7eab9' },
  { status: 'Digest: sha256:756b472e139501585711fdaa859f7cadd67d6eb9125c0b3df0ba347bccae727a' },
  { status: 'Status: Downloaded newer image for 127.0.0.1:5000/bosun-engine-rec/rec:1' },
];

/** Recorded likewise: a three-layer image whose base layer was already present. */
const WITH_EXISTING_LAYER: PullEvent[] = [
  { status: 'Pulling from bosun-engine-rec/rec2', id: '1' },
  { status: 'Already exists', progressDetail: {}, id: 'af1854f7eab9' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '91947c3dca95' },
  { status: 'Pulling fs layer', progressDetail: {}, id: '201a2b991c8c' },
  { status: 'Downloading', progressDetail: { current: 36445, total: 3001129 }, id: '201a2b991c8c' },
  { status: 'Downloading', progressDetail: { current: 36445, total: 3001129 }, id: '91947c3dca95' },
  { status: 'Verifying Checksum', progressDetail: {}, id: '201a2b991c8c' },
  { status: 'Download complete', progressDetail: {}, id: '201a2b991c8c' },
  { status: 'Verifying Checksum', progressDetail: {}, id: '91947c3dca95' },
  { status: 'Download complete', progressDetail: {}, id: '91947c3dca95' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 3001129 }, id: '91947c3dca95' },
  { status: 'Extracting', progressDetail: { current: 458752, total: 3001129 }, id: '91947c3dca95' },
  { status: 'Extracting', progressDetail: { current: 3001129, total: 3001129 }, id: '91947c3dca95' },
  { status: 'Pull complete', progressDetail: {}, id: '91947c3dca95' },
  { status: 'Extracting', progressDetail: { current: 32768, total: 3001129 }, id: '201a2b991c8c' },
  { status: 'Extracting', progressDetail: { current: 1703936, total: 3001129 }, id: '201a2b991c8c' },
  { status: 'Extracting', progressDetail: { current: 3001129, total: 3001129 }, id: '201a2b991c8c' },
  { status: 'Pull complete', progressDetail: {}, id: '201a2b991c8c' },
  { status: 'Digest: sha256:a20a99e8a83a7108ef8523feee9bf62d8583fb22020430ec55d2d8140fabccd2' },
  { status: 'Status: Downloaded newer image for 127.0.0.1:5000/bosun-engine-rec/rec2:1' },
];

/** Recorded likewise: pulling an image that is already up to date. */
const UP_TO_DATE: PullEvent[] = [
  { status: 'Pulling from bosun-engine-rec/rec', id: '1' },
  { status: 'Digest: sha256:756b472e139501585711fdaa859f7cadd67d6eb9125c0b3df0ba347bccae727a' },
  { status: 'Status: Image is up to date for 127.0.0.1:5000/bosun-engine-rec/rec:1' },
];

/** The summary after each event of a sequence. */
function replay(events: readonly PullEvent[]) {
  let state: PullState = initialPullState(IMAGE);
  return events.map((event) => {
    state = applyPullEvent(state, event);
    return summarisePull(state);
  });
}

describe('engine/pull-progress', () => {
  it('follows a one-layer pull step by step: download is 80% of a layer, extraction 20%', () => {
    const steps = replay(ONE_LAYER);
    expect(steps.map((step) => step.percent)).toEqual([0, 0, 2, 80, 80, 80, 99, 99, 100, 100, 100]);
    expect(steps.map((step) => step.layersDone)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(steps[0]?.layersTotal).toBe(0); // 'Pulling from' names the tag, not a layer
    expect(steps[2]).toEqual({
      image: IMAGE,
      layersTotal: 1,
      layersDone: 0,
      bytesTotal: 1068961,
      bytesDone: 36445,
      percent: 2,
    });
    expect(steps.at(-1)).toEqual({
      image: IMAGE,
      layersTotal: 1,
      layersDone: 1,
      bytesTotal: 1068961,
      bytesDone: 1068961,
      percent: 100,
    });
  });

  it('counts an already present layer as done and sums bytes over the downloaded ones', () => {
    const steps = replay(WITH_EXISTING_LAYER);
    expect(steps[1]).toMatchObject({ layersTotal: 1, layersDone: 1, percent: 100 });
    // Once the other layers are announced the existing one is a third of the work.
    expect(steps[3]).toMatchObject({ layersTotal: 3, layersDone: 1, percent: 33 });
    expect(steps[13]).toMatchObject({ layersTotal: 3, layersDone: 2 });
    expect(steps.at(-1)).toEqual({
      image: IMAGE,
      layersTotal: 3,
      layersDone: 3,
      bytesTotal: 6002258,
      bytesDone: 6002258,
      percent: 100,
    });
  });

  it('never says 100% before the last layer is complete', () => {
    const steps = replay(ONE_LAYER);
    const lastLayerDone = ONE_LAYER.findIndex((event) => event.status === 'Pull complete');
    expect(steps.slice(0, lastLayerDone).every((step) => step.percent < 100)).toBe(true);
    const multi = replay(WITH_EXISTING_LAYER);
    const multiDone = WITH_EXISTING_LAYER.findLastIndex((event) => event.status === 'Pull complete');
    expect(multi.slice(2, multiDone).every((step) => step.percent < 100)).toBe(true);
  });

  it('reaches 100% with no layers when the image is already up to date', () => {
    expect(summariseEvents(IMAGE, UP_TO_DATE)).toEqual({
      image: IMAGE,
      layersTotal: 0,
      layersDone: 0,
      bytesTotal: 0,
      bytesDone: 0,
      percent: 100,
    });
    expect(summariseEvents(IMAGE, UP_TO_DATE.slice(0, 2)).percent).toBe(0);
  });

  it('does not mutate the state it is given, and returns the same state for events it ignores', () => {
    const before = Object.freeze(initialPullState(IMAGE));
    const after = applyPullEvent(before, ONE_LAYER[1] as PullEvent);
    expect(before.layers).toEqual({});
    expect(after).not.toBe(before);
    expect(applyPullEvent(after, { status: 'Digest: sha256:00' })).toBe(after);
    expect(applyPullEvent(after, { status: 'Something new', id: 'af1854f7eab9' })).toBe(after);
    expect(applyPullEvent(after, { status: 'Retrying in 5 seconds', id: 'af1854f7eab9' })).toEqual(after);
  });

  it('recognises error lines and leaves progress unchanged by them', () => {
    const errorLine: PullEvent = {
      errorDetail: { message: 'manifest unknown: manifest unknown' },
      error: 'manifest unknown: manifest unknown',
    };
    expect(pullEventError(errorLine)).toBe('manifest unknown: manifest unknown');
    expect(pullEventError({ errorDetail: { message: 'only detail' } })).toBe('only detail');
    expect(pullEventError(ONE_LAYER[2] as PullEvent)).toBeUndefined();
    const state = applyPullEvent(initialPullState(IMAGE), ONE_LAYER[1] as PullEvent);
    expect(applyPullEvent(state, errorLine)).toBe(state);
  });

  it('ignores nonsense progress numbers instead of producing NaN or more than 100%', () => {
    const progress = summariseEvents(IMAGE, [
      { status: 'Pulling fs layer', id: 'a' },
      { status: 'Downloading', progressDetail: { current: 500, total: 0 }, id: 'a' },
      { status: 'Pulling fs layer', id: 'b' },
      { status: 'Downloading', progressDetail: { current: 900, total: 100 }, id: 'b' },
    ]);
    expect(progress.percent).toBe(40);
    expect(progress.bytesDone).toBe(100);
    expect(progress.bytesTotal).toBe(100);
  });
});
