import { describe, it, expect } from '@jest/globals';
import { createMetrics, UPDATE_STATUSES, type BosunMetrics } from '../../../src/api/metrics.js';

async function seriesOf(metrics: BosunMetrics, name: string) {
  const metric = (await metrics.registry()).getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values;
}

describe('src/api/metrics createMetrics', () => {
  it('exposes bosun_ counters and default process metrics', async () => {
    const metrics = createMetrics();
    metrics.recordPoll('unchanged');
    metrics.recordPoll('unchanged');
    metrics.recordApply('locked');
    metrics.addLockedSeconds('app-uuid-1', 2.5);
    metrics.recordLockOverride('api');
    metrics.addImageBytesPulled(1024);
    const { contentType, text } = await metrics.scrape();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
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
    const values = await seriesOf(metrics, 'bosun_update_status');
    const active = values.filter((v) => v.value === 1).map((v) => `${v.labels.app}:${v.labels.status}`);
    expect(active.sort()).toEqual(['a:locked', 'b:done']);
    expect(values).toHaveLength(UPDATE_STATUSES.length * 2);
    metrics.forgetApp('a');
    const after = await seriesOf(metrics, 'bosun_update_status');
    expect(after.every((v) => v.labels.app === 'b')).toBe(true);
  });

  it('ignores negative increments instead of throwing', async () => {
    const metrics = createMetrics();
    metrics.addLockedSeconds('a', -1);
    metrics.addImageBytesPulled(-5);
    expect((await seriesOf(metrics, 'bosun_image_bytes_pulled_total'))[0]?.value ?? 0).toBe(0);
    expect(await seriesOf(metrics, 'bosun_locked_seconds_total')).toEqual([]);
  });

  it('gives every call its own registry', async () => {
    const one = createMetrics();
    const two = createMetrics();
    one.recordPoll('changed');
    expect((await two.scrape()).text).not.toContain('bosun_polls_total{result="changed"}');
  });

  it('counts before the first scrape, and keeps counting after it', async () => {
    const metrics = createMetrics();
    metrics.recordPoll('error');
    metrics.addImageBytesPulled(10);
    expect((await metrics.scrape()).text).toContain('bosun_polls_total{result="error"} 1');
    metrics.recordPoll('error');
    metrics.addImageBytesPulled(5);
    const { text } = await metrics.scrape();
    expect(text).toContain('bosun_polls_total{result="error"} 2');
    expect(text).toContain('bosun_image_bytes_pulled_total 15');
    expect(await metrics.registry()).toBe(await metrics.registry());
  });
});
