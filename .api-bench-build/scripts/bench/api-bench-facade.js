import { timingSafeEqual } from 'node:crypto';
import { BadRequestError } from '../../src/api/errors.js';
/**
 * A read-only DeviceFacade for API benchmarks: a device with `apps` apps of `services`
 * services each, and one global key compared in constant time as the agent does. Actions are
 * refused: the benchmarks only read.
 */
export function createBenchFacade(key, apps = 3, services = 3) {
    const view = benchView(apps, services);
    const expected = Buffer.from(key);
    const refuse = async () => {
        throw new BadRequestError('the benchmark facade is read-only');
    };
    return {
        view: async () => view,
        locks: async () => view.apps.flatMap((app) => app.locks),
        triggerUpdate: refuse,
        healthy: async () => ({ healthy: true }),
        restartApp: refuse,
        purgeApp: refuse,
        stopService: refuse,
        startService: refuse,
        restartService: refuse,
        reboot: refuse,
        shutdown: refuse,
        setLocalTarget: refuse,
        localTarget: async () => ({}),
        keyScope(candidate) {
            const given = Buffer.from(candidate);
            return given.length === expected.length && timingSafeEqual(given, expected) ? { scope: 'global' } : undefined;
        },
    };
}
function benchView(appCount, serviceCount) {
    const apps = Array.from({ length: appCount }, (_, a) => ({
        appId: a + 1,
        appUuid: `bench-app-${a + 1}`,
        appName: `bench-app-${a + 1}`,
        commit: `release-${a + 1}`,
        updateStatus: 'done',
        locks: [],
        services: Array.from({ length: serviceCount }, (_, s) => ({
            serviceName: `svc${s + 1}`,
            serviceId: 100 * (a + 1) + s,
            imageId: 1000 * (a + 1) + s,
            image: `127.0.0.1:5000/bosun/demo:${s + 1}`,
            status: 'Running',
            containerId: `container-${a + 1}-${s + 1}`,
            releaseUuid: `release-${a + 1}`,
            releaseId: a + 1,
            downloadProgress: null,
        })),
    }));
    return {
        uuid: 'bench-device',
        name: 'bench',
        status: 'Idle',
        appState: 'applied',
        commit: 'release-1',
        updatePending: false,
        updateDownloaded: false,
        updateFailed: false,
        overallDownloadProgress: null,
        targetError: null,
        apps,
        localMode: false,
        version: 'bench',
    };
}
