/**
 * What this device checks of a target beyond the shared validation (target/validate.ts, which
 * the fleet runs too): its own device policy, and what of the target this device cannot give.
 */
import { enabledFeatures } from '../target/features.js';
import { join } from '../target/fields.js';
import type { TargetState, TargetWarning } from '../target/types.js';
import { checkDevicePolicy, type DevicePolicy } from './device-policy.js';

export interface DeviceFacts {
  /** Absent: balena's rules, everything allowed. */
  policy?: DevicePolicy;
  /** The engine's unix socket; absent when the agent reaches the engine over TCP. */
  hostDockerSocket?: string;
}

/**
 * Throws DevicePolicyError for a target the device policy forbids (rejected whole); otherwise
 * returns warnings for what the target asks and this device will not give.
 */
export function admitTarget(target: TargetState, facts: DeviceFacts): TargetWarning[] {
  if (facts.policy !== undefined) checkDevicePolicy(target, facts.policy);
  const warnings: TargetWarning[] = [];
  if (facts.hostDockerSocket !== undefined) return warnings;
  for (const app of Object.values(target.apps)) {
    const release = app.release;
    if (release === undefined) continue;
    for (const service of Object.values(release.services)) {
      if (!enabledFeatures({ ...service.composition.labels, ...service.labels }).includes('balena-socket')) {
        continue;
      }
      const servicePath = join(
        join(join(join(join('apps', app.appUuid), 'releases'), release.uuid), 'services'),
        service.serviceName,
      );
      warnings.push({
        path: join(servicePath, 'labels'),
        message:
          'io.balena.features.balena-socket not applied: the agent reaches the engine over TCP ' +
          '(DOCKER_HOST), so there is no socket to mount',
      });
    }
  }
  return warnings;
}
