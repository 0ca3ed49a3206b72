import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
export const METRIC_PREFIX = 'bosun_';
/** Every update_status value, in the order of the state report (contract section 5). */
export const UPDATE_STATUSES = [
    'downloading',
    'downloaded',
    'applying changes',
    'locked',
    'rejected',
    'aborted',
    'done',
];
/**
 * A fresh registry with bosun's metrics and the default process metrics (prefixed
 * `bosun_`). Each call is independent, so tests and several agents in one process never share
 * series. `app` labels carry the app uuid.
 */
export function createMetrics() {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
    const registers = [registry];
    const polls = new Counter({
        name: `${METRIC_PREFIX}polls_total`,
        help: 'Target state polls, by result',
        labelNames: ['result'],
        registers,
    });
    const applies = new Counter({
        name: `${METRIC_PREFIX}applies_total`,
        help: 'Apply passes, by result',
        labelNames: ['result'],
        registers,
    });
    const updateStatus = new Gauge({
        name: `${METRIC_PREFIX}update_status`,
        help: 'Update status per app: 1 for the current status, 0 for the others',
        labelNames: ['app', 'status'],
        registers,
    });
    const lockedSeconds = new Counter({
        name: `${METRIC_PREFIX}locked_seconds_total`,
        help: 'Seconds an app update waited on its update lock',
        labelNames: ['app'],
        registers,
    });
    const lockOverrides = new Counter({
        name: `${METRIC_PREFIX}lock_overrides_total`,
        help: 'Update locks overridden, by the source of the override',
        labelNames: ['source'],
        registers,
    });
    const imageBytesPulled = new Counter({
        name: `${METRIC_PREFIX}image_bytes_pulled_total`,
        help: 'Bytes downloaded by image pulls',
        registers,
    });
    return {
        registry,
        polls,
        applies,
        updateStatus,
        lockedSeconds,
        lockOverrides,
        imageBytesPulled,
        recordPoll: (result) => polls.inc({ result }),
        recordApply: (result) => applies.inc({ result }),
        setUpdateStatus(app, status) {
            for (const candidate of UPDATE_STATUSES) {
                updateStatus.set({ app, status: candidate }, candidate === status ? 1 : 0);
            }
        },
        forgetApp(app) {
            for (const status of UPDATE_STATUSES)
                updateStatus.remove({ app, status });
            lockedSeconds.remove({ app });
        },
        addLockedSeconds(app, seconds) {
            // prom-client throws on negative increments; a clock step backwards must not crash the agent.
            if (seconds > 0)
                lockedSeconds.inc({ app }, seconds);
        },
        recordLockOverride: (source) => lockOverrides.inc({ source }),
        addImageBytesPulled(bytes) {
            if (bytes > 0)
                imageBytesPulled.inc(bytes);
        },
    };
}
