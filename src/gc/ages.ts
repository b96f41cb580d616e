// How old a blob is, for gc's grace period: the time the backend keeps (the fs store's mtime, the
// memory store's); otherwise when this process saw it added (a store feed tracker) or stored it
// again or reused it (the store's renewals), or — never seen — the tracker's start time.

import type { BlobId } from '../blobs/id.ts';
import type { BlobStore } from '../blobs/types.ts';

/** Milliseconds since the epoch when the blob was stored (an upper bound is safe: it keeps more). */
export type BlobAgeOf = (id: BlobId) => Promise<number>;

/** Remembers when blobs were added to a store while this process runs. */
export class BlobAddTracker {
  readonly startedAt = Date.now();
  readonly #added = new Map<BlobId, number>();
  readonly #ac = new AbortController();

  /** `onAdded` is told of each blob added (cheaply: synchronously, no id). */
  constructor(store: BlobStore, onAdded?: () => void) {
    void (async () => {
      try {
        for await (const e of store.subscribe({ signal: this.#ac.signal, bufferSize: 1 << 16 })) {
          // On overflow we lose some adds: treat everything as new from now on.
          if (e.type === 'removed') {
            this.#added.delete(e.id);
            continue;
          }
          if (e.type === 'overflow') this.#overflowAt = Date.now();
          else this.#added.set(e.id, Date.now());
          onAdded?.();
        }
      } catch {
        // The store closed.
      }
    })();
  }

  #overflowAt = 0;

  /** When `id` was added as far as this process knows (never earlier than the tracker's start). */
  addedAt(id: BlobId): number {
    return Math.max(this.#added.get(id) ?? this.startedAt, this.#overflowAt);
  }

  /** When this process saw `id` added, if it did. */
  seenAt(id: BlobId): number | undefined {
    const t = this.#added.get(id);
    return t === undefined ? undefined : Math.max(t, this.#overflowAt);
  }

  /** Forgets adds older than `ms` (they are past any grace period by then). */
  prune(olderThanMs: number): void {
    const limit = Date.now() - olderThanMs;
    for (const [id, t] of this.#added) if (t < limit) this.#added.delete(id);
  }

  stop(): void {
    this.#ac.abort();
  }
}

/**
 * The age function for a store: when the store can tell (the filesystem backend's file times),
 * else the tracker (or "now": keep all).
 */
export function blobAgeOf(store: BlobStore, tracker?: BlobAddTracker): BlobAgeOf {
  if (store.modifiedAt) {
    return async (id) => {
      try {
        return Math.max(await store.modifiedAt!(id), tracker?.seenAt(id) ?? 0);
      } catch {
        return Date.now();
      }
    };
  }
  // Stores that keep no time of their own still say when this process stored a blob again or reused it.
  return async (id) => (tracker ? Math.max(tracker.addedAt(id), store.renewedAt?.(id) ?? 0) : Date.now());
}
