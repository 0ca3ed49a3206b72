/**
 * Feature labels (contract section 9): `io.balena.features.<name>` (or the legacy
 * `io.resin.features.<name>`) set to a true value give a service a piece of the host that balena
 * gives it. Which labels are on is read from the labels alone, so the config hash (which covers
 * labels) changes whenever a feature is turned on or off.
 */

export const FEATURES = [
  'balena-socket',
  'dbus',
  'sysfs',
  'procfs',
  'kernel-modules',
  'firmware',
  'journal-logs',
  'supervisor-api',
  'balena-api',
  'gpu',
] as const;

export type Feature = (typeof FEATURES)[number];

const PREFIXES = ['io.balena.features.', 'io.resin.features.'];

/** balena's checkTruthy: the values that turn a feature on. */
const TRUE_VALUES = new Set(['1', 'true', 'on']);

export function isFeature(name: string): name is Feature {
  return (FEATURES as readonly string[]).includes(name);
}

/** `dbus` for `dbus`, `io.balena.features.dbus` or `io.resin.features.dbus`; undefined for others. */
export function featureNamed(name: string): Feature | undefined {
  const prefix = PREFIXES.find((p) => name.startsWith(p));
  const bare = prefix === undefined ? name : name.slice(prefix.length);
  return isFeature(bare) ? bare : undefined;
}

/**
 * The features a service's labels turn on, in FEATURES order. The balena spelling wins over the
 * resin one when both are set (as for every other balena label).
 */
export function enabledFeatures(labels: Readonly<Record<string, string>>): Feature[] {
  return FEATURES.filter((feature) => {
    const key = PREFIXES.map((p) => p + feature).find((k) => Object.hasOwn(labels, k));
    return key !== undefined && TRUE_VALUES.has(labels[key]);
  });
}
