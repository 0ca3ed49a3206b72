import { nextDelay } from '../cloud/backoff.js';
import type { PullProgress } from '../engine/types.js';
import { appDataDir, ensureAppDataDir, ensureServiceLockDir, serviceLockDir } from '../locks/paths.js';
import { LockWatcher } from '../locks/lock-watcher.js';
import { Quarantine } from '../host/quarantine.js';
import type { AppUpdatePolicy } from '../policy/update-policy.js';
import type { TargetState } from '../target/types.js';
import { errorMessage } from '../util/errors.js';
import { Waker } from '../util/waker.js';
import { createExecutor } from './executor.js';
import { IntentBook } from './intent-book.js';
import { ProbationKeeper } from './probation-keeper.js';
import { UpdatePolicyClock, type PassPolicies, type PolicyTimers } from './update-policy-clock.js';
import type { IntentOptions, IntentRequest } from './intents.js';
import { gatherFacts, lockSubjects } from './facts.js';
import {
  sleepAfterOutcome,
  type AppStatus,
  type LoopDeps,
  type LoopStatus,
  type PassFacts,
  type PassOutcome,
  type WaitCause,
} from './loop-types.js';
import { planSteps, type AppPlan, type PlanFacts } from './plan.js';
import { isInterrupting, stepApp, stepKey, type Step } from './steps.js';
import {
  lockOverrideMessage,
  lockWaitEndedMessage,
  lockWaitMessage,
  UpdateAnnouncer,
} from './update-events.js';

export type { AppStatus, LoopDeps, LoopStatus, PassOutcome } from './loop-types.js';

/** What a pass that can run nothing now waits for: the first wait step's reason, else a timer. */
function waitCause(steps: Step[], intentTimer: boolean): WaitCause {
  const wait = steps.find((s) => s.action === 'wait');
  if (wait) return wait.reason;
  if (intentTimer) return 'api action';
  return steps.length > 0 ? 'backoff' : 'recheck';
}

interface Failure {
  attempts: number;
  retryAt: number;
  error: string;
  /** Undefined for a device-wide step (image clean-up): no app shows its error. */
  appUuid: string | undefined;
}

/** Download progress reaches onStatus at most this often (the status itself is always current). */
const PROGRESS_PUBLISH_MS = 500;

/**
 * One apply at a time, level-triggered (design.md). Each pass reads the world, plans, runs the
 * batch, and goes again until only waits are left; then it sleeps until something can change the
 * plan: a new target, a trigger, a lock dir event, a backoff or hand-over timer, or the slow
 * fallback poll. Invariants:
 * - only run() executes steps, so two applies never overlap;
 * - setTarget() and trigger({cancel}) abort the batch in flight (pulls stop at once; a kill in
 *   progress finishes) and the next pass plans against the newest target;
 * - trigger({force}) wakes a pass that waits on a lock and plans it with the override, so a force
 *   is never queued behind the wait (balena-supervisor #2541); it lasts until the device converges;
 *   trigger({forceApps}) does the same for those apps only (a force sent with an app's own key);
 * - a failing step backs off on its own; every other step keeps going;
 * - a pass that fails before it can plan (engine unreachable) backs off like a failing step (1 s
 *   to 5 min, full jitter): the agent keeps running, the API answers 503 for what needs the
 *   engine, and the loop converges once the engine is back;
 * - it is the only writer: API actions come as intents (submit), planned under the same lock
 *   rules as updates, and the update policies (deadlines, windows, probation) are facts it reads.
 */
export class ReconcileLoop {
  private target: TargetState | undefined;
  private stopped = false;
  private forced = false;
  /** Apps forced by app-scoped keys: their locks are overridden, the other apps' are honoured. */
  private forcedApps = new Set<number>();
  /** Counts force triggers, so a pass only ends a force that was in effect when it read the world. */
  private forceCount = 0;
  /** Woken by anything that may change the plan: targets, triggers, lock dir events. */
  private readonly waker = new Waker();
  private inFlight: AbortController | undefined;
  private running: Promise<void> | undefined;
  private readonly failures = new Map<string, Failure>();
  /** Apps whose lock this loop took (uuid -> id), so it is released even after the app vanished. */
  private readonly lockedApps = new Map<string, number>();
  /** Lock waits already logged, by app, with their blocking paths. */
  private loggedWaits = new Map<string, string[]>();
  private readonly progress = new Map<string, Record<string, number>>();
  /** Bytes already counted per pull in flight, so metrics get only the increase. */
  private readonly pulledBytes = new Map<string, number>();
  private readonly watcher: LockWatcher;
  private readonly execute: (step: Step, signal: AbortSignal) => Promise<void>;
  private progressPublishedAt = -Infinity;
  private statusValue: LoopStatus = { applying: false, converged: false, forced: false, apps: {} };
  private passListeners: Array<() => void> = [];
  /** The lock deadline and update window as the clock sees them (update-policy-clock.ts). */
  private readonly policyClock: UpdatePolicyClock;
  /** Probation and rollback (probation-keeper.ts); none without a release history. */
  private readonly probation: ProbationKeeper | undefined;
  /** What the local API asked for and waits on (see intents.ts). */
  private readonly intents: IntentBook;
  private readonly announcer: UpdateAnnouncer;

  constructor(private readonly deps: LoopDeps) {
    this.announcer = new UpdateAnnouncer((message) => this.event(message));
    this.watcher = new LockWatcher(() => this.wake(), deps.log, deps.lockWatch ?? true);
    this.intents = new IntentBook(deps.heldStopped, deps.log);
    this.policyClock = new UpdatePolicyClock();
    this.probation =
      deps.releaseHistory &&
      new ProbationKeeper(deps.releaseHistory, deps.log, (message) => {
        this.event(message);
        this.wake();
      });
    this.execute = createExecutor({
      deviceUuid: deps.deviceUuid,
      engine: deps.engine,
      locks: deps.locks,
      layout: deps.layout,
      quarantine: deps.quarantine ?? new Quarantine([deps.layout.lockDir, deps.layout.dataDir], deps.log),
      log: deps.log,
      pulledImages: deps.pulledImages,
      onInterrupt: deps.onInterrupt,
      onLockOverridden: (appUuid, paths, byDeadline) => {
        deps.onLockOverridden?.(appUuid, paths, byDeadline);
        this.event(lockOverrideMessage(this.appName(appUuid), paths, byDeadline));
      },
      onPullProgress: (appUuid, serviceName, p) => this.recordProgress(appUuid, serviceName, p),
    });
  }

  get status(): LoopStatus {
    return this.statusValue;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** A new accepted target: cancels the apply in flight and converges on this one. */
  setTarget(target: TargetState): void {
    this.target = target;
    this.failures.clear();
    this.inFlight?.abort();
    // Until a pass has planned the new target, no app may look `done`: a report built now would
    // claim the new release is applied before anything happened.
    const apps: Record<string, AppStatus> = {};
    for (const [appUuid, app] of Object.entries(this.statusValue.apps)) {
      apps[appUuid] = { ...app, phase: app.phase === 'done' ? 'applying changes' : app.phase };
    }
    this.publish({ apps, converged: false });
    this.wake();
  }

  trigger(options: { force?: boolean; forceApps?: Iterable<number>; cancel?: boolean } = {}): void {
    if (options.force) {
      this.forced = true;
      this.forceCount += 1;
    }
    for (const appId of options.forceApps ?? []) {
      this.forcedApps.add(appId);
      this.forceCount += 1;
    }
    if (options.cancel) {
      this.failures.clear();
      this.inFlight?.abort();
    }
    this.wake();
  }

  /** Resolves after the next pass that starts from now has finished (for tests and the API). */
  nextPass(): Promise<void> {
    return new Promise((resolve) => this.passListeners.push(resolve));
  }

  /**
   * Hands the loop an API action (restart, stop, start, purge, reboot, shutdown) and resolves with
   * the containers it acted on once it is done, under the same lock rules as an update. Rejects
   * with LockedError when a user lock (no force, no override) outlasts `lockTimeoutMs`. A pass
   * in flight is cancelled (a pull stops; a step in progress finishes) so the intent is planned
   * at once, never queued behind a download.
   */
  submit(request: IntentRequest, options: IntentOptions): Promise<string[]> {
    const outcome = this.intents.add(request, options, this.now());
    this.inFlight?.abort();
    this.wake();
    return outcome;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.intents.failAll(new Error('the agent is stopping'));
    this.inFlight?.abort();
    this.wake();
    await this.running;
    this.watcher.close();
    await this.deps.locks.releaseAll();
  }

  private async run(): Promise<void> {
    let idleErrors = 0;
    while (!this.stopped) {
      let sleepMs: number;
      this.waker.clear();
      try {
        // Without a target there is nothing to apply, but an API reboot still runs.
        const target = this.target ?? (this.intents.size > 0 ? this.emptyTarget() : undefined);
        const outcome = target ? await this.pass(target) : undefined;
        sleepMs = outcome ? sleepAfterOutcome(outcome) : Infinity;
        if (outcome) this.deps.onPass?.(outcome);
        idleErrors = 0;
        if (this.statusValue.failingSince !== undefined) this.publish({ failingSince: undefined });
      } catch (err) {
        this.inFlight = undefined;
        idleErrors += 1;
        sleepMs = nextDelay(idleErrors, { ...this.backoffOptions(), random: this.deps.random });
        this.publish({
          applying: false,
          lastError: errorMessage(err),
          failingSince: this.statusValue.failingSince ?? this.now(),
        });
        this.deps.log.error({ err, retryInMs: sleepMs }, 'reconcile pass failed');
        this.deps.onPass?.({ kind: 'failed', error: errorMessage(err), ms: sleepMs });
      }
      const listeners = this.passListeners;
      this.passListeners = [];
      for (const resolve of listeners) resolve();
      if (sleepMs > 0 && !this.stopped) await this.waker.sleep(sleepMs);
    }
  }

  /** Each app's update policy, worked out once a pass for the clock and for probation alike. */
  private updatePolicies(target: TargetState): PassPolicies {
    const policies = new Map<string, AppUpdatePolicy>();
    const policyOf = this.deps.updatePolicy;
    if (policyOf)
      for (const app of Object.values(target.apps)) policies.set(app.appUuid, policyOf(app, target));
    return policies;
  }

  /** One pass: read the world, plan, run the batch; says what happened and how long to sleep. */
  private async pass(wanted: TargetState): Promise<PassOutcome> {
    const now = this.now();
    const target = this.probation
      ? await this.probation.releasesToApply(wanted, (appId) => this.forced || this.forcedApps.has(appId))
      : wanted;
    const passStartedAt = now;
    const forceCountAtStart = this.forceCount;
    // Made before the world is read, so a new target, a cancel or a stop that comes while facts
    // are gathered is not missed: the pass then runs nothing and the next one re-plans.
    const abort = new AbortController();
    this.inFlight = abort;
    const facts = await gatherFacts(target, {
      deviceUuid: this.deps.deviceUuid,
      engine: this.deps.engine,
      locks: this.deps.locks,
      layout: this.deps.layout,
      context: this.deps.specContext(),
      now,
      override: {
        device: this.deps.deviceOverride(),
        force: this.forced,
        forceApps: new Set(this.forcedApps),
      },
      heldStopped: this.deps.heldStopped.view,
      pulledImages: this.deps.pulledImages.view,
      lockedApps: this.lockedApps,
    });
    for (const appUuid of this.lockedApps.keys()) {
      if (!(appUuid in (facts.heldLockApps ?? {}))) this.lockedApps.delete(appUuid);
    }
    if (this.deps.onNetworks) {
      await this.deps
        .onNetworks(facts.networks ?? [])
        .catch((err: unknown) =>
          this.deps.log.warn({ err: errorMessage(err) }, 'cannot follow the app networks'),
        );
    }
    // Without the watcher there is nothing to make the dirs for ahead of time: a create step
    // makes and checks its own service's dirs before it mounts them.
    if (this.watcher.watching) await this.watcher.watchDirs(await this.watchedDirs(target, facts.containers));
    await this.intents.bind(facts.containers);
    const policies = this.updatePolicies(target);
    const policy = this.policyClock.facts(target, policies, now);
    const plan = planSteps(target, {
      ...facts,
      heldStopped: new Set(this.deps.heldStopped.view),
      intents: this.intents.planned(),
      policies: policy.facts,
      keepImages: this.probation?.imagesForRollback(),
    });
    this.forgetFailuresNotIn(plan.steps);
    this.policyClock.trackLockWaits(plan, now);
    const runnable = plan.steps.filter((s) => s.action !== 'wait' && !this.inBackoff(s, now));
    // Probation is judged from this pass's facts; with steps to run, only after them, so that a
    // write of the history never delays a kill or a start.
    const judgeProbations = async () =>
      this.probation?.advance(target, plan, facts.containers, policies, now);
    if (runnable.length === 0 || abort.signal.aborted) await judgeProbations();
    const intentWakeMs = Math.min(
      this.intents.settle(plan, now),
      this.policyClock.wakeMs(plan, policy.timers, now),
      this.probation?.wakeMs(now) ?? Infinity,
    );
    const converged = plan.steps.length === 0;
    // A force (or a new target) that came in while this pass was reading the world was not
    // planned with; only a force this pass applied ends when the device converges.
    if (converged && this.isForced() && forceCountAtStart === this.forceCount && wanted === this.target) {
      this.forced = false;
      this.forcedApps.clear();
    }
    this.publishPlan(plan.apps, policy.timers, { applying: runnable.length > 0, converged, passStartedAt });
    this.logWaits(plan.steps);
    this.announcer.afterPlan(target, plan.apps, facts.containers);
    const read = { facts: this.passFacts(facts), apps: plan.apps };

    if (abort.signal.aborted) {
      this.inFlight = undefined;
      return { kind: 'wait', ...read, ms: 0, cause: 'cancelled' };
    }
    if (runnable.length === 0) {
      this.inFlight = undefined;
      const idle = converged && this.intents.size === 0;
      const ms = Math.min(this.sleepAfter(plan.steps, now, idle), intentWakeMs);
      if (idle) return { kind: 'converged', ...read, ms };
      return { kind: 'wait', ...read, ms, cause: waitCause(plan.steps, ms === intentWakeMs) };
    }
    // Locks first. Then the rest, where a kill or stop runs only if the loop holds its app's lock
    // now: whatever the plan said, nothing is ever interrupted without the lock.
    const locking = runnable.filter((s) => s.action === 'takeLock');
    await this.runBatch(locking, abort.signal);
    const rest = runnable.filter(
      (s) => s.action !== 'takeLock' && (!isInterrupting(s) || this.deps.locks.holds(s.appUuid)),
    );
    await this.runBatch(rest, abort.signal);
    this.inFlight = undefined;
    await judgeProbations();
    // Not announced: the next pass starts at once and announces its plan. Each announcement makes
    // the agent rebuild its report from the engine, which would slow the update it reports on.
    this.statusValue = {
      ...this.statusValue,
      applying: false,
      lastPassAt: this.now(),
      passStartedAt: undefined,
    };
    return { kind: 'progressed', ...read, steps: runnable.length };
  }

  /** The facts a report needs, from what this pass read: user locks and the agent's own. */
  private passFacts(facts: PlanFacts): PassFacts {
    const userLocks = Object.values(facts.locks).flatMap((l) => l.userLocks);
    return { containers: facts.containers, locks: [...userLocks, ...this.deps.locks.heldEntries()] };
  }

  private async runBatch(steps: Step[], signal: AbortSignal): Promise<void> {
    if (steps.length === 0) return;
    const results = await Promise.allSettled(steps.map((step) => this.execute(step, signal)));
    results.forEach((result, i) => this.recordResult(steps[i]!, result, signal.aborted));
  }

  private sleepAfter(steps: Step[], now: number, converged: boolean): number {
    if (converged) return this.deps.resyncMs ?? 30_000;
    const fallback = this.deps.fallbackPollMs ?? 2_000;
    let ms = fallback;
    for (const step of steps) {
      if (step.action === 'wait' && step.reason === 'handover') ms = Math.min(ms, Math.max(step.ms, 10));
    }
    for (const failure of this.failures.values()) ms = Math.min(ms, Math.max(failure.retryAt - now, 10));
    return ms;
  }

  /**
   * A failure is about a step; once the plan no longer has that step (the world changed, the
   * target moved on), its record would only keep an app showing an old error and backing off.
   */
  private forgetFailuresNotIn(steps: Step[]): void {
    const planned = new Set(steps.map(stepKey));
    for (const key of this.failures.keys()) if (!planned.has(key)) this.failures.delete(key);
  }

  private recordResult(step: Step, result: PromiseSettledResult<void>, aborted: boolean): void {
    const key = stepKey(step);
    if (result.status === 'fulfilled') {
      this.failures.delete(key);
      if (step.action === 'wipeAppData' || step.action === 'hostCommand') {
        this.intents.effectDone(step.intentId);
      }
      if (step.action === 'takeLock') this.lockedApps.set(step.appUuid, step.appId);
      return;
    }
    if (aborted) return; // cancelled by a newer target: not a failure of the step
    if (step.action === 'hostCommand') {
      // Not retried: the API caller hears the command failed and decides.
      this.intents.finish(step.intentId, { error: result.reason as Error });
      return;
    }
    const previous = this.failures.get(key);
    const attempts = (previous?.attempts ?? 0) + 1;
    const delay = nextDelay(attempts, { ...this.backoffOptions(), random: this.deps.random });
    const error = errorMessage(result.reason);
    this.failures.set(key, { attempts, retryAt: this.now() + delay, error, appUuid: stepApp(step) });
    this.deps.log.warn(
      { step: key, attempts, retryInMs: delay, err: result.reason },
      'step failed; backing off',
    );
  }

  private inBackoff(step: Step, now: number): boolean {
    const failure = this.failures.get(stepKey(step));
    return failure !== undefined && failure.retryAt > now;
  }

  private backoffOptions() {
    return this.deps.backoff ?? { baseMs: 1_000, capMs: 300_000 };
  }

  private recordProgress(appUuid: string, serviceName: string, progress: PullProgress): void {
    const key = `${appUuid}/${serviceName}`;
    const before = this.pulledBytes.get(key) ?? 0;
    if (progress.bytesDone > before) this.deps.onPullBytes?.(progress.bytesDone - before);
    if (progress.percent >= 100) this.pulledBytes.delete(key);
    else this.pulledBytes.set(key, progress.bytesDone);
    const perService = this.progress.get(appUuid) ?? {};
    perService[serviceName] = progress.percent;
    this.progress.set(appUuid, perService);
    const app = this.statusValue.apps[appUuid];
    if (!app) return;
    app.progress = { ...perService };
    // A pull reports many events a second, and each status change makes the agent rebuild its
    // report from the engine: publish at most every PROGRESS_PUBLISH_MS, and the end of a pull.
    const now = this.now();
    if (progress.percent < 100 && now - this.progressPublishedAt < PROGRESS_PUBLISH_MS) return;
    this.progressPublishedAt = now;
    this.deps.onStatus?.(this.statusValue);
  }

  private publishPlan(
    apps: Record<string, AppPlan>,
    timers: Record<string, PolicyTimers>,
    partial: Partial<LoopStatus>,
  ): void {
    const statusApps: Record<string, AppStatus> = {};
    for (const [appUuid, plan] of Object.entries(apps)) {
      const failure = [...this.failures.values()].find((f) => f.appUuid === appUuid);
      if (plan.phase === 'done') this.progress.delete(appUuid);
      const timer = timers[appUuid];
      statusApps[appUuid] = {
        ...plan,
        progress: { ...(this.progress.get(appUuid) ?? {}) },
        error: plan.error ?? failure?.error,
        ...(plan.phase === 'locked' &&
          timer?.deadlineAt !== undefined && { lockDeadlineAt: timer.deadlineAt }),
        ...(plan.phase === 'scheduled' && timer?.opensAt !== undefined && { windowOpensAt: timer.opensAt }),
        ...this.probation?.status(appUuid),
      };
    }
    this.publish({ ...partial, apps: statusApps, forced: this.isForced(), lastError: undefined });
  }

  private publish(partial: Partial<LoopStatus>): void {
    this.statusValue = { ...this.statusValue, ...partial };
    this.deps.onStatus?.(this.statusValue);
  }

  /** Logs a lock wait when it starts or its blockers change, and its end: not once per pass. */
  private logWaits(steps: Step[]): void {
    const now = new Map<string, string[]>();
    for (const step of steps) {
      if (step.action === 'wait' && step.reason === 'locked') now.set(step.appUuid, step.paths);
    }
    for (const [appUuid, paths] of now) {
      if (this.loggedWaits.get(appUuid)?.join('\0') === paths.join('\0')) continue;
      this.deps.log.info({ appUuid, paths }, 'update waiting for the app to release its lock');
      this.event(lockWaitMessage(this.appName(appUuid), paths));
    }
    for (const appUuid of this.loggedWaits.keys()) {
      if (now.has(appUuid)) continue;
      this.deps.log.info({ appUuid }, 'update no longer waiting for a lock');
      this.event(lockWaitEndedMessage(this.appName(appUuid)));
    }
    this.loggedWaits = now;
  }

  /**
   * The lock dirs to watch, made (and checked) first so a lock taken before the first container
   * starts is seen. A dir that fails the check is not watched; the step that needs it fails with
   * the reason, and the fallback poll still looks.
   */
  private async watchedDirs(
    target: TargetState,
    containers: Parameters<typeof lockSubjects>[1],
  ): Promise<string[]> {
    const { layout, log } = this.deps;
    const dirs: Array<Promise<string>> = [];
    // A dir watched already was made and checked then; only new ones cost syscalls on each pass
    // (the create step checks again before it mounts anything).
    const ensure = (dir: string, make: () => Promise<string>) =>
      dirs.push(this.watcher.isWatching(dir) ? Promise.resolve(dir) : make());
    for (const subject of lockSubjects(target, containers)) {
      ensure(appDataDir(layout, subject.appId), () => ensureAppDataDir(layout, subject.appId));
      for (const name of subject.serviceNames) {
        ensure(serviceLockDir(layout, subject.appId, name), () =>
          ensureServiceLockDir(layout, subject.appId, name),
        );
      }
    }
    const made: string[] = [];
    for (const result of await Promise.allSettled(dirs)) {
      if (result.status === 'fulfilled') made.push(result.value);
      else log.warn({ err: result.reason }, 'lock dir not watched');
    }
    return made;
  }

  private emptyTarget(): TargetState {
    return { uuid: this.deps.deviceUuid, config: {}, apps: {} };
  }

  /** A force of any scope is in effect. */
  private isForced(): boolean {
    return this.forced || this.forcedApps.size > 0;
  }

  private wake(): void {
    this.waker.wake();
  }

  /** An update event for the device's log stream; a failing sink must not fail the pass. */
  private event(message: string): void {
    try {
      this.deps.onEvent?.(message);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'update event sink failed');
    }
  }

  /** The app's name in the target, else its uuid (an app that left the target). */
  private appName(appUuid: string): string {
    return this.target?.apps[appUuid]?.name ?? appUuid;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
