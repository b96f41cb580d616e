// The flooded queries' seen-cache: a bounded map with per-entry expiry. Bounded so a flood of fresh
// ids cannot grow memory; entries live until their query's deadline (afterwards copies are dropped anyway).

export class SeenCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expires <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Adds or replaces; the least recently added entries go first when the cache is full. */
  set(key: string, value: V, expires: number): void {
    this.map.delete(key);
    this.map.set(key, { value, expires });
    this.sweep();
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  private sweep(): void {
    const now = this.now();
    // Expired entries near the front go cheaply; the size bound evicts the oldest whatever their expiry.
    for (const [k, e] of this.map) {
      if (this.map.size > this.maxEntries || e.expires <= now) this.map.delete(k);
      else break;
    }
  }
}
