/**
 * "Something changed in fleet N": published by the routes that change a fleet (reports,
 * registrations, pushes, pins, rollouts, config, tags) and heard by the dashboard's event
 * streams, which then tell their page to read again. Only this process's changes are published
 * here; change-recheck.ts finds those of other backends on a shared PostgreSQL database.
 * Listeners are capped: each is an open HTTP response.
 */
export type ChangeListener = () => void;

/** A listener of one fleet (its id), or of every fleet (`undefined`: the fleets page). */
export type FleetScope = number | undefined;

export class FleetChangeFeed {
  private readonly byFleet = new Map<number, Set<ChangeListener>>();
  private readonly ofEveryFleet = new Set<ChangeListener>();
  private readonly closers = new Set<() => void>();
  private closed = false;

  constructor(readonly maxListeners: number) {}

  /** Listeners now: each an open stream. */
  get size(): number {
    return this.closers.size;
  }

  /**
   * Adds a listener; `onClose` runs when the feed closes (the server stops). Answers the function
   * that removes it, or undefined when the feed is full or closed (the caller refuses the stream).
   */
  listen(scope: FleetScope, listener: ChangeListener, onClose: () => void): (() => void) | undefined {
    if (this.closed || this.closers.size >= this.maxListeners) return undefined;
    const set = scope === undefined ? this.ofEveryFleet : this.setOf(scope);
    set.add(listener);
    this.closers.add(onClose);
    return () => {
      set.delete(listener);
      this.closers.delete(onClose);
      if (scope !== undefined && set.size === 0 && this.byFleet.get(scope) === set)
        this.byFleet.delete(scope);
    };
  }

  publish(fleetIds: Iterable<number>): void {
    if (this.closers.size === 0) return;
    let any = false;
    for (const id of new Set(fleetIds)) {
      any = true;
      for (const listener of [...(this.byFleet.get(id) ?? [])]) listener();
    }
    if (any) for (const listener of [...this.ofEveryFleet]) listener();
  }

  /** Ends every stream: the server is closing (an open response would hold it open). */
  close(): void {
    this.closed = true;
    for (const onClose of [...this.closers]) onClose();
    this.closers.clear();
    this.byFleet.clear();
    this.ofEveryFleet.clear();
  }

  private setOf(fleetId: number): Set<ChangeListener> {
    let set = this.byFleet.get(fleetId);
    if (!set) {
      set = new Set();
      this.byFleet.set(fleetId, set);
    }
    return set;
  }
}
