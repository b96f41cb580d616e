// Open indexes shared by the calls using them. An index whose definition changed (its design
// document was edited) is retired: it closes at once if nothing uses it, else after its last call,
// and until then its stored data is kept from cleanup (`draining`).

/** What an open index carries for its holds: its users, whether it is retired, its signature. */
export interface Holdable {
  users: number;
  retired: boolean;
  signature: string;
}

export class IndexHolds<E extends Holdable> {
  /** Retired indexes still in use, by signature: cleanup keeps their data until they close. */
  readonly draining = new Map<string, E>();

  constructor(private readonly close: (entry: E) => Promise<void>) {}

  /**
   * Runs `fn` with the index `open` answers, held meanwhile. One retired (and so closed) between
   * its opening and now is asked for again: the current definition's.
   */
  async using<T>(open: () => Promise<E>, fn: (entry: E) => Promise<T>): Promise<T> {
    let entry = await open();
    for (let tries = 0; entry.retired && entry.users === 0 && tries < 3; tries++) entry = await open();
    entry.users++;
    try {
      return await fn(entry);
    } finally {
      if (--entry.users === 0 && entry.retired) {
        if (this.draining.get(entry.signature) === entry) this.draining.delete(entry.signature);
        await this.close(entry);
      }
    }
  }

  /** Retires an index: it closes now, or after the last call still using it. */
  async retire(entry: E | undefined): Promise<void> {
    if (!entry) return;
    entry.retired = true;
    if (entry.users === 0) await this.close(entry);
    else this.draining.set(entry.signature, entry);
  }
}
