import type { PersistedSet } from '../store/persisted-set.js';
import { LockedError } from '../util/errors.js';
import type { Logger } from '../util/logger.js';
import type { ContainerInfo } from '../engine/types.js';
import { bindContainers, type IntentOptions, type IntentRequest, type PlannedIntent } from './intents.js';
import type { Plan } from './plan.js';

/** An API action in the loop's hands (see submit). */
interface ActiveIntent {
  planned: PlannedIntent;
  /** Bound to its containers at the first pass that saw it. */
  bound: boolean;
  /** Past this, a user lock in the way makes it fail with LockedError. */
  lockDeadline: number;
  /** Past this, it is answered as it stands (an app that does not come back is the plan's business). */
  settleBy: number;
  resolve: (containerIds: string[]) => void;
  reject: (err: Error) => void;
}

/** How long an API action waits for a user's lock before answering 423 (balena's 10 s). */
const DEFAULT_INTENT_LOCK_WAIT_MS = 10_000;
/** How long an API action waits for its app to be back after a restart or purge. */
const INTENT_SETTLE_MS = 60_000;

/**
 * The API actions the loop holds (intents.ts): each waits for the plan to say it is done, for a
 * user lock to outlast its wait (LockedError), or for its settle time; the loop asks this book
 * what to plan and how soon to look again.
 */
export class IntentBook {
  private readonly intents = new Map<number, ActiveIntent>();
  private seq = 0;

  constructor(
    private readonly heldStopped: PersistedSet,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.intents.size;
  }

  /** Takes an action; resolves with the containers it acted on once it is done. */
  add(request: IntentRequest, options: IntentOptions, now: number): Promise<string[]> {
    const id = (this.seq += 1);
    return new Promise<string[]>((resolve, reject) => {
      this.intents.set(id, {
        planned: { id, request, force: options.force, containerIds: [], effectDone: false },
        bound: false,
        lockDeadline: now + (options.lockTimeoutMs ?? DEFAULT_INTENT_LOCK_WAIT_MS),
        settleBy: now + INTENT_SETTLE_MS,
        resolve,
        reject,
      });
    });
  }

  /** The intents as the planner sees them. */
  planned(): PlannedIntent[] {
    return [...this.intents.values()].map((i) => i.planned);
  }

  /** A wipe or host command of this intent ran. */
  effectDone(id: number): void {
    const intent = this.intents.get(id);
    if (intent) intent.planned.effectDone = true;
  }

  /** Answers every action with `error` (the agent is stopping). */
  failAll(error: Error): void {
    for (const id of [...this.intents.keys()]) this.finish(id, { error });
  }

  /**
   * Binds each new intent to the containers it acts on, as the world is now. A stop is recorded
   * as held-stopped first (persisted, so the loop never starts them again, across restarts too);
   * a start lifts that record.
   */
  async bind(containers: ContainerInfo[]): Promise<void> {
    const heldStopped = this.heldStopped;
    for (const intent of this.intents.values()) {
      if (intent.bound) continue;
      intent.bound = true;
      const ids = bindContainers(intent.planned.request, containers);
      intent.planned.containerIds = ids;
      if (intent.planned.request.kind === 'stop') {
        // Records of containers that are gone (replaced by a release since) can never match again.
        await heldStopped.retain((id) => containers.some((c) => c.id === id));
        for (const id of ids) await heldStopped.add(id);
      } else if (intent.planned.request.kind === 'start' || intent.planned.request.kind === 'restart') {
        for (const id of ids) await heldStopped.delete(id);
      }
    }
  }

  /**
   * Settles the intents the plan says are done, gives up on those a user lock held past their
   * wait, and returns how soon the loop must look again for the others' deadlines.
   */
  settle(plan: Plan, now: number): number {
    let wakeMs = Infinity;
    for (const [id, intent] of this.intents) {
      const progress = plan.intents[id] ?? { state: 'working' };
      if (progress.state === 'done') {
        this.finish(id, {});
      } else if (progress.state === 'locked' && now >= intent.lockDeadline) {
        const request = intent.planned.request;
        const subject =
          request.kind === 'hostCommand'
            ? 'the device'
            : `app ${plan.apps[request.appUuid]?.appId ?? request.appUuid}`;
        this.finish(id, {
          error: new LockedError(
            `${subject} is locked by ${progress.paths.join(', ')}`,
            progress.paths,
            request.kind === 'hostCommand' ? undefined : plan.apps[request.appUuid]?.appId,
          ),
          undoStop: true,
        });
      } else if (now >= intent.settleBy) {
        this.log.warn({ request: intent.planned.request }, 'API action not complete within 60 s');
        this.finish(id, {});
      } else {
        const deadline = progress.state === 'locked' ? intent.lockDeadline : intent.settleBy;
        wakeMs = Math.min(wakeMs, Math.max(deadline - now, 10));
      }
    }
    return wakeMs;
  }

  finish(id: number, how: { error?: Error; undoStop?: boolean }): void {
    const intent = this.intents.get(id);
    if (!intent) return;
    this.intents.delete(id);
    if (how.error === undefined) {
      intent.resolve(intent.planned.containerIds);
      return;
    }
    if (how.undoStop && intent.planned.request.kind === 'stop') {
      // The stop never happened: the containers are not held stopped.
      void Promise.all(intent.planned.containerIds.map((c) => this.heldStopped.delete(c))).catch((err) =>
        this.log.error({ err }, 'cannot persist the held-stopped record'),
      );
    }
    intent.reject(how.error);
  }
}
