import { networkInterfaces, release, type as osType } from 'node:os';
import type { AppView, DeviceView, LockEntry } from './device-facade.js';

/**
 * The response bodies of the read-only endpoints, in the shapes balena-supervisor's clients
 * parse. Pure functions of the facade's view, so they are tested without a server.
 */

/** GET /v2/applications/state: keyed by app name (by uuid when the name is missing or taken). */
export function applicationsState(apps: AppView[]): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  for (const app of apps) {
    const key = app.appName && !(app.appName in state) ? app.appName : app.appUuid;
    const services: Record<string, unknown> = {};
    for (const service of app.services) {
      services[service.serviceName] = {
        status: service.status,
        releaseId: service.releaseId ?? null,
        releaseUuid: service.releaseUuid ?? null,
        downloadProgress: service.downloadProgress,
        image: service.image,
        imageId: service.imageId,
        serviceId: service.serviceId,
        containerId: service.containerId ?? null,
      };
    }
    state[key] = {
      appId: app.appId,
      appUuid: app.appUuid,
      commit: app.commit ?? null,
      targetCommit: app.targetCommit ?? null,
      updateStatus: app.updateStatus,
      // Contract section 10: when a scheduled update runs, until when the release is on
      // probation, and why a release was rolled back (or left running unhealthy).
      ...(app.updateWindowOpensAt !== undefined && { updateWindowOpensAt: app.updateWindowOpensAt }),
      ...(app.probationEndsAt !== undefined && { probationEndsAt: app.probationEndsAt }),
      ...(app.rollbackReason !== undefined && { rollbackReason: app.rollbackReason }),
      locks: lockList(app.locks.filter((l) => l.holder === 'app')),
      services,
    };
  }
  return state;
}

/** GET /v2/state/status, balena's shape: containers that exist, images the target wants. */
export function stateStatus(device: DeviceView, apps: AppView[]): Record<string, unknown> {
  const containers = [];
  const images = [];
  for (const app of apps) {
    for (const service of app.services) {
      images.push({
        name: service.image,
        appId: app.appId,
        appUuid: app.appUuid,
        serviceName: service.serviceName,
        imageId: service.imageId,
        status: service.status,
        downloadProgress: service.downloadProgress,
      });
      if (service.containerId === undefined) continue;
      containers.push({
        status: service.status,
        serviceName: service.serviceName,
        appId: app.appId,
        appUuid: app.appUuid,
        imageId: service.imageId,
        serviceId: service.serviceId,
        containerId: service.containerId,
        commit: service.releaseUuid ?? app.commit ?? null,
      });
    }
  }
  return {
    status: 'success',
    appState: device.appState,
    overallDownloadProgress: device.overallDownloadProgress,
    containers,
    images,
    release: apps[0]?.commit ?? device.commit ?? null,
    // Section 10 per app: scheduled (and when), rolled back or unhealthy (and why).
    apps: apps.map((app) => ({
      appUuid: app.appUuid,
      updateStatus: app.updateStatus,
      ...(app.updateWindowOpensAt !== undefined && { updateWindowOpensAt: app.updateWindowOpensAt }),
      ...(app.rollbackReason !== undefined && { rollbackReason: app.rollbackReason }),
    })),
  };
}

/** GET /v2/locks entries: where each lock is, who holds it, since when. */
export function lockList(locks: LockEntry[]): Array<Record<string, unknown>> {
  return locks.map((lock) => ({
    appId: lock.appId,
    appUuid: lock.appUuid,
    serviceName: lock.serviceName ?? null,
    path: lock.path,
    hostPath: lock.hostPath,
    holder: lock.holder,
    since: lock.since,
    ...(lock.deadline !== undefined && { deadline: lock.deadline }),
  }));
}

/** Host facts GET /v1/device reports next to the agent's own state. */
export interface HostInfo {
  osVersion: string;
  ipAddresses: string[];
  macAddresses: string[];
}

export function readHostInfo(): HostInfo {
  const ipAddresses: string[] = [];
  const macAddresses = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv4') ipAddresses.push(entry.address);
      if (entry.mac && entry.mac !== '00:00:00:00:00:00') macAddresses.add(entry.mac.toUpperCase());
    }
  }
  return { osVersion: `${osType()} ${release()}`, ipAddresses, macAddresses: [...macAddresses] };
}

/** GET /v1/device with balena's field names. */
export function v1Device(
  device: DeviceView,
  apiPort: number | null,
  host: HostInfo,
): Record<string, unknown> {
  return {
    api_port: apiPort,
    ip_address: host.ipAddresses.join(' '),
    mac_address: host.macAddresses.join(' '),
    commit: device.commit ?? null,
    status: device.status,
    download_progress: device.overallDownloadProgress,
    os_version: host.osVersion,
    supervisor_version: device.version,
    update_pending: device.updatePending,
    update_downloaded: device.updateDownloaded,
    update_failed: device.updateFailed,
    uuid: device.uuid,
    name: device.name ?? null,
    target_error: device.targetError,
    local_mode: device.localMode,
  };
}
