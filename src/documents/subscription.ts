// Live changes: a subscriber pulls batches; the database only signals "something was committed".
// Rows are read from storage when the subscriber asks for the next batch, so a slow consumer
// holds at most one batch in memory however fast writers go (back-pressure by construction).

import { sleep } from '../platform/sleep.ts';
import type { ChangeRow } from './types.ts';

export class CommitSignal {
  private waiters = new Set<() => void>();
  private closed = false;

  notify(): void {
    // Every commit notifies, most with no one waiting: no new set then (one per single put).
    if (this.waiters.size === 0) return;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves at the next commit, on close, or when `signal` aborts. */
  next(signal?: AbortSignal): Promise<void> {
    if (this.closed || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = () => {
        signal?.removeEventListener('abort', wake);
        this.waiters.delete(wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

/** A sequenced log that signals its commits: a database's changes, or a node's database updates. */
export interface FeedSource<Row = ChangeRow> {
  /** The committed sequence right now. */
  currentSeq(): number;
  read(since: number, limit: number): Promise<{ results: Row[]; lastSeq: number }>;
  signal: CommitSignal;
}

/**
 * Yields batches of at most `batchSize` rows, forever, until aborted, returned or the source
 * closes. `return()` ends the feed at once even while a `next()` waits for a commit: a plain
 * generator's would queue behind that `next()`, and wait for the next write to happen.
 */
export function liveChanges<Row = ChangeRow>(
  source: FeedSource<Row>,
  since: number,
  batchSize: number,
  intervalMs: number,
  abort?: AbortSignal,
  onRead?: (lastSeq: number) => void,
): AsyncGenerator<Row[], void, undefined> {
  const stop = new AbortController();
  const signal = abort ? AbortSignal.any([abort, stop.signal]) : stop.signal;
  const feed = (async function* (): AsyncGenerator<Row[], void, undefined> {
    let cursor = since;
    let waited = false;
    while (!signal.aborted && !source.signal.isClosed) {
      if (waited && intervalMs > 0) await sleep(intervalMs, signal);
      if (signal.aborted || source.signal.isClosed) return;
      const { results, lastSeq } = await source.read(cursor, batchSize);
      cursor = lastSeq;
      onRead?.(lastSeq);
      if (results.length > 0) {
        waited = false;
        yield results;
        continue;
      }
      // Subscribe before re-checking, so a commit between the read and the wait is not missed.
      const next = source.signal.next(signal);
      if (source.currentSeq() > cursor) {
        waited = false;
        continue;
      }
      await next;
      waited = true;
    }
  })();
  const end = feed.return.bind(feed);
  feed.return = (value) => {
    stop.abort();
    return end(value);
  };
  return feed;
}
