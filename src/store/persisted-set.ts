import type { JsonStore } from './json-store.js';

interface StoredSet {
  epoch?: string;
  items: unknown[];
}

/**
 * A set of strings kept in one store document, written through on every change, so what the
 * agent remembers (containers stopped through the API, images it pulled) survives a restart or a
 * power cut. Each change writes a snapshot of the set taken when it is made; the store writes one
 * key in call order, so two quick changes never land out of order.
 *
 * With an `epoch` (e.g. the kernel's boot id), what was stored under another epoch is forgotten
 * on load: a set that should last until the next reboot, not beyond.
 */
export class PersistedSet {
  private readonly items = new Set<string>();

  constructor(
    private readonly store: JsonStore,
    private readonly key: string,
    private readonly epoch?: string,
  ) {}

  async load(): Promise<this> {
    const stored = await this.store.read<StoredSet>(this.key);
    this.items.clear();
    if (!stored || !Array.isArray(stored.items) || stored.epoch !== this.epoch) return this;
    for (const item of stored.items) if (typeof item === 'string') this.items.add(item);
    return this;
  }

  /** A live read-only view: it sees later changes. */
  get view(): ReadonlySet<string> {
    return this.items;
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  async add(item: string): Promise<void> {
    if (this.items.has(item)) return;
    this.items.add(item);
    await this.persist();
  }

  async delete(item: string): Promise<void> {
    if (!this.items.delete(item)) return;
    await this.persist();
  }

  /** Drops every item `keep` says no to (e.g. ids of containers that no longer exist). */
  async retain(keep: (item: string) => boolean): Promise<void> {
    const gone = [...this.items].filter((item) => !keep(item));
    if (gone.length === 0) return;
    for (const item of gone) this.items.delete(item);
    await this.persist();
  }

  private persist(): Promise<void> {
    const snapshot: StoredSet = { epoch: this.epoch, items: [...this.items].sort() };
    return this.store.write(this.key, snapshot);
  }
}
