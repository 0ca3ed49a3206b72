import { networkInterfaces, release, type as osType } from 'node:os';
/**
 * The response bodies of the read-only endpoints, in the shapes balena-supervisor's clients
 * parse. Pure functions of the facade's view, so they are tested without a server.
 */
/** GET /v2/applications/state: keyed by app name (by uuid when the name is missing or taken). */
export function applicationsState(apps) {
    const state = {};
    for (const app of apps) {
        const key = app.appName && !(app.appName in state) ? app.appName : app.appUuid;
        const services = {};
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
            services,
        };
    }
    return state;
}
/** GET /v2/state/status, balena's shape: containers that exist, images the target wants. */
export function stateStatus(device, apps) {
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
            if (service.containerId === undefined)
                continue;
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
    };
}
/** GET /v2/locks entries: where each lock is, who holds it, since when. */
export function lockList(locks) {
    return locks.map((lock) => ({
        appId: lock.appId,
        appUuid: lock.appUuid,
        serviceName: lock.serviceName ?? null,
        path: lock.path,
        hostPath: lock.hostPath,
        holder: lock.holder,
        since: lock.since,
    }));
}
export function readHostInfo() {
    const ipAddresses = [];
    const macAddresses = new Set();
    for (const entries of Object.values(networkInterfaces())) {
        for (const entry of entries ?? []) {
            if (entry.internal)
                continue;
            if (entry.family === 'IPv4')
                ipAddresses.push(entry.address);
            if (entry.mac && entry.mac !== '00:00:00:00:00:00')
                macAddresses.add(entry.mac.toUpperCase());
        }
    }
    return { osVersion: `${osType()} ${release()}`, ipAddresses, macAddresses: [...macAddresses] };
}
/** GET /v1/device with balena's field names. */
export function v1Device(device, apiPort, host) {
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
