import { describe, expect, it } from '@jest/globals';
import { planSteps } from '../../../src/reconcile/plan.js';
import { app, container, facts, service, target, userLock } from '../../helpers/builders.js';

const main1 = service('main', { image: 'reg/main:1', imageId: 101 });
const main2 = service('main', { image: 'reg/main:2', imageId: 102 });
const r1 = app('a1', 1, { uuid: 'rel1', id: 1, services: [main1] });
const r2 = app('a1', 1, { uuid: 'rel2', id: 2, services: [main2] });

describe('reconcile/plan: image clean-up', () => {
  const all = new Set(['reg/main:1', 'reg/main:2', 'reg/gone:1']);

  it('removes pulled images no target service and no container uses, once nothing else is to do', () => {
    const plan = planSteps(
      target(r2),
      facts({ containers: [container(r2, main2)], images: all, pulledImages: all }),
    );
    expect(plan.steps).toEqual([
      { action: 'removeImage', image: 'reg/gone:1' },
      { action: 'removeImage', image: 'reg/main:1' },
    ]);
    expect(plan.apps.a1?.phase).toBe('done');
  });

  it('never removes an image it did not pull', () => {
    const plan = planSteps(target(r2), facts({ containers: [container(r2, main2)], images: all }));
    expect(plan.steps).toEqual([]);
  });

  it('waits until the update is through: no clean-up beside other steps', () => {
    const plan = planSteps(
      target(r2),
      facts({ containers: [container(r1, main1)], images: all, pulledImages: all }),
    );
    expect(plan.steps.map((s) => s.action)).toEqual(['takeLock', 'kill']);
  });

  it('keeps the images of an app waiting on its lock (its old containers still use them)', () => {
    const locks = { a1: { userLocks: [userLock('a1')], agentHolds: false } };
    const plan = planSteps(
      target(r2),
      facts({ containers: [container(r1, main1)], images: all, pulledImages: all, locks }),
    );
    expect(plan.steps).toEqual([
      { action: 'wait', appUuid: 'a1', reason: 'locked', paths: ['/tmp/balena/updates.lock'] },
      { action: 'removeImage', image: 'reg/gone:1' },
    ]);
  });
});
