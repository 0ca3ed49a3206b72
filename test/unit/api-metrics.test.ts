import { describe, it, expect } from '@jest/globals';
import { createMetrics, UPDATE_STATUSES } from '../../src/api/metrics.js';

describe('src/api/metrics createMetrics', () => {
  it('exposes bosun_ counters and default process metrics', async () => {
    const metrics = createMetrics();
    metrics.recordPoll('unchanged');
    metrics.recordPoll('unchanged');
    metrics.recordApply('locked');
    metrics.addLockedSeconds('app-uuid-1', 2.5);
    metrics.recordLockOverride('api');
    metrics.addImageBytesPulled(1024);
    const text = await metrics.registry.metrics();
    expect(text).toContain('bosun_polls_total{result="unchanged"} 2');
    expect(text).toContain('bosun_applies_total{result="locked"} 1');
    expect(text).toContain('bosun_locked_seconds_total{app="app-uuid-1"} 2.5');
    expect(text).toContain('bosun_lock_overrides_total{source="api"} 1');
    expect(text).toContain('bosun_image_bytes_pulled_total 1024');
    expect(text).toContain('bosun_process_resident_memory_bytes');
    expect(text).toContain('bosun_nodejs_eventloop_lag_seconds');
  });

  it('keeps update_status one-hot per app and forgets removed apps', async () => {
    const metrics = createMetrics();
    metrics.setUpdateStatus('a', 'downloading');
    metrics.setUpdateStatus('a', 'locked');
    metrics.setUpdateStatus('b', 'done');
    const values = (await metrics.updateStatus.get()).values;
    const active = values.filter((v) => v.value === 1).map((v) => `${v.labels.app}:${v.labels.status}`);
    expect(active.sort()).toEqual(['a:locked', 'b:done']);
    expect(values).toHaveLength(UPDATE_STATUSES.length * 2);
    metrics.forgetApp('a');
    const after = (await metrics.updateStatus.get()).values;
    expect(after.every((v) => v.labels.app === 'b')).toBe(true);
  });

  it('ignores negative increments instead of throwing', async () => {
    const metrics = createMetrics();
    metrics.addLockedSeconds('a', -1);
    metrics.addImageBytesPulled(-5);
    expect((await metrics.imageBytesPulled.get()).values[0]?.value ?? 0).toBe(0);
  });

  it('gives every call its own registry', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.recordPoll('changed');
    expect(await two.registry.metrics()).not.toContain('bosun_polls_total{result="changed"}');
  });
});
