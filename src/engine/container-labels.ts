/**
 * Reads bosun's identity labels back from a container. Shared by every Engine so that the
 * docker and memory engines agree on what counts as a bosun container.
 */
import { LABELS, type ContainerInfo } from './types.js';

/** The ContainerInfo fields that come from labels. */
export type LabelledIdentity = Pick<
  ContainerInfo,
  'appId' | 'appUuid' | 'serviceName' | 'serviceId' | 'imageId' | 'releaseId' | 'releaseUuid' | 'configHash'
>;

export type LabelParseResult = { ok: true; identity: LabelledIdentity } | { ok: false; reason: string };

const NUMERIC_LABELS = {
  appId: LABELS.appId,
  serviceId: LABELS.serviceId,
  imageId: LABELS.imageId,
  releaseId: LABELS.releaseId,
} as const;

const TEXT_LABELS = {
  appUuid: LABELS.appUuid,
  serviceName: LABELS.serviceName,
  releaseUuid: LABELS.releaseUuid,
  configHash: LABELS.configHash,
} as const;

/**
 * Parses the identity labels; a container missing any of them (or with a non-numeric id) was not
 * created by bosun, or was tampered with, and the reason says which label is wrong.
 */
export function parseBosunLabels(labels: Readonly<Record<string, string>>): LabelParseResult {
  const numbers: Partial<Record<keyof typeof NUMERIC_LABELS, number>> = {};
  for (const [field, label] of Object.entries(NUMERIC_LABELS) as [keyof typeof NUMERIC_LABELS, string][]) {
    const raw = labels[label];
    if (raw === undefined) return { ok: false, reason: `label ${label} is missing` };
    if (!/^\d+$/.test(raw)) return { ok: false, reason: `label ${label} is not a whole number: ${raw}` };
    numbers[field] = Number(raw);
  }
  const texts: Partial<Record<keyof typeof TEXT_LABELS, string>> = {};
  for (const [field, label] of Object.entries(TEXT_LABELS) as [keyof typeof TEXT_LABELS, string][]) {
    const raw = labels[label];
    if (raw === undefined || raw === '') return { ok: false, reason: `label ${label} is missing` };
    texts[field] = raw;
  }
  return { ok: true, identity: { ...numbers, ...texts } as LabelledIdentity };
}
