/** Target documents for tests: a v3 device object with one app and one release. */

export interface ServiceDef {
  image: string;
  imageId?: number;
  environment?: Record<string, string>;
  labels?: Record<string, string>;
  running?: boolean;
  composition?: Record<string, unknown>;
}

/** A v3 device object with one app and one release. Services default to a fast stop and no network. */
export function deviceObject(app: {
  appUuid: string;
  appId: number;
  releaseUuid: string;
  releaseId: number;
  services: Record<string, ServiceDef>;
  volumes?: Record<string, object>;
  config?: Record<string, string>;
  extraApps?: Record<string, unknown>;
}): Record<string, unknown> {
  let serviceId = 0;
  const services = Object.fromEntries(
    Object.entries(app.services).map(([name, def]) => {
      serviceId += 1;
      return [
        name,
        {
          id: serviceId,
          image_id: def.imageId ?? app.releaseId * 100 + serviceId,
          image: def.image,
          environment: def.environment ?? {},
          labels: def.labels ?? {},
          running: def.running ?? true,
          composition: { network_mode: 'none', stop_grace_period: '1s', ...(def.composition ?? {}) },
        },
      ];
    }),
  );
  return {
    name: 'test-device',
    config: app.config ?? {},
    apps: {
      [app.appUuid]: {
        id: app.appId,
        name: `app-${app.appId}`,
        class: 'fleet',
        releases: {
          [app.releaseUuid]: { id: app.releaseId, services, volumes: app.volumes ?? {}, networks: {} },
        },
      },
      ...(app.extraApps ?? {}),
    },
  };
}
