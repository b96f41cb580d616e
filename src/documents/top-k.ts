// The k first items of a stream in an order, held in at most k slots: a Mango answer sorted in
// memory keeps the page it gives (skip + limit), not every match.

type Compare<T> = (a: T, b: T) => number;

/** Moves items[i] down until no child comes after it (the root is the last of those held). */
function siftDown<T>(items: T[], i: number, cmp: Compare<T>): void {
  const n = items.length;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    const r = l + 1;
    const c = r < n && cmp(items[r]!, items[l]!) > 0 ? r : l;
    if (cmp(items[c]!, items[i]!) <= 0) return;
    [items[i], items[c]] = [items[c]!, items[i]!];
    i = c;
  }
}

export class TopK<T> {
  /** Unordered until full; then a heap whose root is the last of the k first. */
  private readonly items: T[] = [];

  constructor(
    private readonly k: number,
    private readonly cmp: Compare<T>,
  ) {}

  add(item: T): void {
    const items = this.items;
    if (items.length < this.k) {
      items.push(item);
      if (items.length === this.k) for (let i = (items.length >> 1) - 1; i >= 0; i--) siftDown(items, i, this.cmp);
      return;
    }
    if (this.k === 0 || this.cmp(item, items[0]!) >= 0) return;
    items[0] = item;
    siftDown(items, 0, this.cmp);
  }

  /** The items held, in order; the holder is emptied. */
  take(): T[] {
    const out = this.items.splice(0, this.items.length);
    return out.sort(this.cmp);
  }
}
