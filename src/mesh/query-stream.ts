// The asker's side of a flooded query: results as an async iterable that ends at the deadline, at
// the result limit, on abort, or when the consumer stops iterating — whichever comes first.

import type { QueryResult } from './query-protocol.ts';

export class QueryStream implements AsyncIterable<QueryResult> {
  private readonly queue: QueryResult[] = [];
  private waiting: ((r: IteratorResult<QueryResult>) => void) | undefined;
  private remaining: number;
  private ended = false;
  private readonly timer: ReturnType<typeof setTimeout>;
  private readonly onAbort = () => this.end();
  /** Peers that answered, per database: a copy arriving twice (a re-forward race) is dropped. */
  private readonly seen = new Set<string>();
  /** How many neighbours the query was sent to (0: it reached nobody). */
  neighbours = 0;

  constructor(
    readonly id: string,
    limit: number,
    /** How long it collects answers. */
    readonly timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly onEnd: () => void,
  ) {
    this.remaining = limit;
    this.timer = setTimeout(() => this.end(), timeoutMs);
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.end();
  }

  get done(): boolean {
    return this.ended;
  }

  /** Delivers a result (trimmed to what the limit still allows). */
  push(result: QueryResult): void {
    if (this.ended) return;
    const key = `${result.peer}\u0000${result.db ?? ''}\u0000${result.blob?.id ?? ''}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    let r = result;
    if (result.docs) {
      if (result.docs.length === 0) return;
      if (result.docs.length > this.remaining) r = { ...result, docs: result.docs.slice(0, this.remaining) };
      this.remaining -= Math.min(result.docs.length, this.remaining);
    } else {
      this.remaining -= 1;
    }
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: r, done: false });
    } else {
      this.queue.push(r);
    }
    if (this.remaining <= 0) this.end();
  }

  /** Stops waiting for more results; those already received are still delivered. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.onEnd();
    if (this.waiting && this.queue.length === 0) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: undefined, done: true });
    }
  }

  /** Every result, once the query has ended. */
  async all(): Promise<QueryResult[]> {
    const out: QueryResult[] = [];
    for await (const r of this) out.push(r);
    return out;
  }

  [Symbol.asyncIterator](): AsyncIterator<QueryResult> {
    return {
      next: () => {
        const r = this.queue.shift();
        if (r !== undefined) return Promise.resolve({ value: r, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => (this.waiting = resolve));
      },
      return: () => {
        this.end();
        this.queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
