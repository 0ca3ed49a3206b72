import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { JsonStore } from '../store/json-store.js';
import { parseDeviceObject, parseTargetDocument, type ParsedTarget } from '../target/validate.js';
import { convertV2LocalTarget, isV2LocalShape } from '../target/v2-local.js';
import type { TargetState, TargetWarning } from '../target/types.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/logger.js';

export type TargetSource = 'cloud' | 'local' | 'file';

/** The accepted target as stored: the raw device object (re-validated at start) and where it came from. */
interface StoredTarget {
  source: TargetSource;
  device: unknown;
  acceptedAt: string;
  /** sha256 of the preload file this target came from, so an edited file is applied at restart. */
  fileHash?: string;
}

const STORE_KEY = 'target';

export interface Verdict {
  accepted: boolean;
  reason?: string;
}

interface Candidate {
  parsed: ParsedTarget;
  /** The v3 device object it was parsed from: what is stored, and re-validated at start. */
  device: unknown;
}

/**
 * Keeps the device's accepted target: validates every candidate whole (a rejected one changes
 * nothing and is remembered as `targetError`), persists it crash-safely, and only once it is
 * stored hands it to the apply loop.
 */
export class TargetKeeper {
  private accepted:
    { target: TargetState; device: unknown; source: TargetSource; warnings: TargetWarning[] } | undefined;
  private error: string | null = null;
  /** Releases named by the last rejected cloud document, by app uuid. */
  private rejected: Record<string, string> = {};
  /** sha256 of the preload file last applied (persisted with the target). */
  private fileHash: string | undefined;
  /** The tail of the offers being handled, so each starts when the one before it is done. */
  private offers: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: {
      uuid: string;
      store: JsonStore;
      log: Logger;
      onAccepted: (target: TargetState, source: TargetSource) => void;
      onRejected?: (reason: string) => void;
      /**
       * This device's own checks of a valid target (policy/target-admission.ts): throws to reject
       * it whole, returns warnings for what it will not get.
       */
      admit?: (target: TargetState) => TargetWarning[];
    },
  ) {}

  get target(): TargetState | undefined {
    return this.accepted?.target;
  }

  get source(): TargetSource | undefined {
    return this.accepted?.source;
  }

  /** The device object of the accepted target, as it came. */
  get rawDevice(): unknown {
    return this.accepted?.device;
  }

  get targetError(): string | null {
    return this.error;
  }

  /** What the accepted target asked for and does not get (contract section 5, target_warnings). */
  get targetWarnings(): TargetWarning[] {
    return this.accepted?.warnings ?? [];
  }

  /** Releases named by the last rejected cloud document, by app uuid, so they can be reported `rejected`. */
  get rejectedReleases(): Record<string, string> {
    return this.error ? this.rejected : {};
  }

  /**
   * At start-up: the stored target, or the preload file. In local mode an edited preload file
   * wins over the stored target; in managed mode the file is used only when nothing is stored.
   */
  async load(options: { preloadFile?: string; localMode: boolean }): Promise<void> {
    const stored = await this.deps.store.read<StoredTarget>(STORE_KEY);
    let fileText: string | undefined;
    if (options.preloadFile) {
      try {
        fileText = await fs.readFile(options.preloadFile, 'utf8');
      } catch (err) {
        this.deps.log.error({ file: options.preloadFile, err }, 'cannot read BOSUN_TARGET_STATE_FILE');
      }
    }
    const fileHash = fileText === undefined ? undefined : sha256(fileText);
    const fileIsNew =
      fileHash !== undefined && (!stored || (options.localMode && stored.fileHash !== fileHash));
    if (fileIsNew) {
      let candidate: Candidate | undefined;
      try {
        candidate = this.parseFileDocument(JSON.parse(fileText!));
      } catch (err) {
        this.reject(`preloaded target ${options.preloadFile}: ${errorMessage(err)}`);
      }
      if (candidate) {
        const verdict = await this.acceptDurably(candidate, 'file', fileHash);
        if (verdict.accepted) return;
      }
    }
    if (stored) {
      try {
        const parsed = this.admitted(parseDeviceObject(stored.device, this.deps.uuid));
        this.accept({ parsed, device: stored.device }, stored.source, { fileHash: stored.fileHash });
      } catch (err) {
        this.reject(`stored target no longer valid: ${errorMessage(err)}`);
      }
    }
  }

  /** A cloud document `{ "<uuid>": device }`. */
  async offerCloudDocument(doc: unknown): Promise<Verdict> {
    return this.inOrder(() => {
      this.rejected = readableReleases(doc, this.deps.uuid);
      return this.offer(() => {
        const parsed = this.admitted(parseTargetDocument(doc, this.deps.uuid));
        return { parsed, device: (doc as Record<string, unknown>)[this.deps.uuid] };
      }, 'cloud');
    });
  }

  /** POST /v2/local/target-state: a v3 device object or balena's v2 `{ local: ... }`. */
  async offerLocal(body: unknown): Promise<Verdict> {
    return this.inOrder(() => this.offer(() => this.parseDevice(body), 'local'));
  }

  /**
   * Offers are handled one at a time, in the order they came: each persists before it is
   * accepted, and two overlapping ones could otherwise store one target and apply the other.
   */
  private inOrder(offer: () => Promise<Verdict>): Promise<Verdict> {
    const turn = this.offers.then(offer);
    // The chain only orders offers; each caller sees its own outcome through `turn`.
    this.offers = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async offer(parse: () => Candidate, source: TargetSource): Promise<Verdict> {
    let candidate: Candidate;
    try {
      candidate = parse();
    } catch (err) {
      const reason = errorMessage(err);
      this.reject(reason);
      return { accepted: false, reason };
    }
    return this.acceptDurably(candidate, source, undefined);
  }

  /**
   * Stores the candidate, and only then accepts it (hands it to the loop). A target that cannot be
   * stored is rejected and nothing changes: applied but unstored, it would run until the next
   * restart and then silently give way to the older stored target.
   */
  private async acceptDurably(
    candidate: Candidate,
    source: TargetSource,
    fileHash: string | undefined,
  ): Promise<Verdict> {
    const keptFileHash = fileHash ?? this.fileHash;
    try {
      await this.persist({ source, device: candidate.device, fileHash: keptFileHash });
    } catch (err) {
      const reason = `the target cannot be stored, so it is not applied: ${errorMessage(err)}`;
      this.reject(reason);
      return { accepted: false, reason };
    }
    this.accept(candidate, source, { fileHash: keptFileHash });
    return { accepted: true };
  }

  /** A v3 device object, or balena's v2 local shape converted to one. */
  private parseDevice(body: unknown): Candidate {
    const device = isV2LocalShape(body) ? convertV2LocalTarget(body, this.deps.uuid) : body;
    return { parsed: this.admitted(parseDeviceObject(device, this.deps.uuid)), device };
  }

  /** A valid target through this device's own checks: throws to reject it, adds their warnings. */
  private admitted(parsed: ParsedTarget): ParsedTarget {
    const extra = this.deps.admit?.(parsed.target) ?? [];
    return extra.length === 0 ? parsed : { ...parsed, warnings: [...parsed.warnings, ...extra] };
  }

  /** The preload file: a bare device object, the v2 local shape, or a whole `{ "<uuid>": device }`. */
  private parseFileDocument(body: unknown): Candidate {
    const isObject = body !== null && typeof body === 'object' && !Array.isArray(body);
    if (isObject && !('apps' in body) && !isV2LocalShape(body)) {
      const values = Object.values(body);
      if (values.length === 1) return this.parseDevice(values[0]);
    }
    return this.parseDevice(body);
  }

  private accept(candidate: Candidate, source: TargetSource, extra: { fileHash?: string }): void {
    const { parsed, device } = candidate;
    for (const warning of parsed.warnings) this.deps.log.warn({ path: warning.path }, warning.message);
    this.accepted = { target: parsed.target, device, source, warnings: parsed.warnings };
    // The hash of the preload file last applied survives later targets, so an unchanged file
    // does not win over a target posted since.
    this.fileHash = extra.fileHash ?? this.fileHash;
    this.error = null;
    this.deps.log.info({ source, apps: Object.keys(parsed.target.apps) }, 'target state accepted');
    this.deps.onAccepted(parsed.target, source);
  }

  /** A cloud document that never reached validation (not JSON, truncated): remembered as the target error. */
  recordRejection(reason: string): void {
    this.rejected = {};
    this.reject(reason);
  }

  /**
   * The cloud serves the accepted document again (a 304, or the same body): a rejection since
   * then is over.
   */
  clearRejection(): void {
    if (this.error === null) return;
    this.error = null;
    this.rejected = {};
    this.deps.log.info('the cloud serves the accepted target again; target error cleared');
  }

  private reject(reason: string): void {
    this.error = reason;
    this.deps.log.error({ reason }, 'target state rejected whole; what runs stays as it is');
    this.deps.onRejected?.(reason);
  }

  private async persist(target: Omit<StoredTarget, 'acceptedAt'>): Promise<void> {
    const stored: StoredTarget = { ...target, acceptedAt: new Date().toISOString() };
    await this.deps.store.write(STORE_KEY, stored);
  }
}

/** Best effort: the app and release uuids of a document that may be malformed elsewhere. */
function readableReleases(doc: unknown, uuid: string): Record<string, string> {
  const out: Record<string, string> = {};
  const apps = (doc as { [k: string]: { apps?: unknown } } | null)?.[uuid]?.apps;
  if (!apps || typeof apps !== 'object') return out;
  for (const [appUuid, app] of Object.entries(apps as Record<string, { releases?: unknown }>)) {
    const releases = app && typeof app === 'object' ? app.releases : undefined;
    if (!releases || typeof releases !== 'object') continue;
    const first = Object.keys(releases)[0];
    if (first) out[appUuid] = first;
  }
  return out;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
