/**
 * Hands accepted targets to the loop in the order they were accepted, each after its own
 * preparation (the app keys it needs are stored): a quick preparation of a later target must not
 * overtake a slow one of an earlier target, or the engine could end on the older target while the
 * newer one is stored. A failed preparation is the caller's to log; the handoff still happens.
 */
export class OrderedHandoff<T> {
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly prepare: (item: T) => Promise<void>,
    private readonly deliver: (item: T) => void,
  ) {}

  /** Starts the item's preparation now; delivers it once it and every earlier item are through. */
  hand(item: T): Promise<void> {
    const ready = this.prepare(item);
    const delivered = this.tail
      .then(() => ready)
      .then(
        () => this.deliver(item),
        () => this.deliver(item),
      );
    this.tail = delivered.catch(() => undefined);
    return delivered;
  }
}
