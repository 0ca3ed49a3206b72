import { describe, expect, it } from '@jest/globals';
import type { AppPhase, AppPlan } from '../../../src/reconcile/plan.js';
import {
  lockOverrideMessage,
  lockWaitMessage,
  probationFailedMessage,
  UpdateAnnouncer,
} from '../../../src/reconcile/update-events.js';
import { app, container, service, target } from '../../helpers/builders.js';

const main = service('main');
const v1 = app('app-uuid', 1, { uuid: 'release1aaaa', id: 1, services: [main] });
const v2 = app('app-uuid', 1, { uuid: 'release2bbbb', id: 2, services: [main] });
const plan = (phase: AppPhase): Record<string, AppPlan> => ({
  'app-uuid': { appUuid: 'app-uuid', appId: 1, phase, lockPaths: [] },
});

describe('reconcile/update-events', () => {
  it('announces an update once when it starts and once when it is done; restarts are no updates', () => {
    const said: string[] = [];
    const announcer = new UpdateAnnouncer((message) => said.push(message));
    const onV1 = [container(v1, main)];
    announcer.afterPlan(target(v1), plan('applying changes'), onV1); // a restart of what runs
    announcer.afterPlan(target(v1), plan('done'), onV1);
    expect(said).toEqual([]);
    announcer.afterPlan(target(v2), plan('downloading'), onV1);
    announcer.afterPlan(target(v2), plan('locked'), onV1);
    announcer.afterPlan(target(v2), plan('applying changes'), []);
    announcer.afterPlan(target(v2), plan('done'), [container(v2, main)]);
    announcer.afterPlan(target(v2), plan('done'), [container(v2, main)]);
    expect(said).toEqual(['Updating app-1 to release release', 'Update of app-1 to release release done']);
  });

  it('words lock waits, overrides and failed probations with the app and what blocks it', () => {
    expect(lockWaitMessage('kiosk', ['/tmp/balena/updates.lock'])).toBe(
      'Update of kiosk waiting for the app to release its update lock (/tmp/balena/updates.lock)',
    );
    expect(lockOverrideMessage('kiosk', ['/a', '/b'], true)).toBe(
      'Update locks of kiosk removed (the lock deadline passed): /a, /b',
    );
    expect(probationFailedMessage('kiosk', 'release2bbbb', 'rolled back', 'main exited with code 1')).toBe(
      'Release release of kiosk failed probation (main exited with code 1): rolling back to the previous release',
    );
  });
});
