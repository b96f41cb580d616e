// Holds on gc, as `ipfs add` takes Kubo's GC lock: a writer that names its blobs only once all are
// stored (a snapshot's blocks, named by its ref at the end) holds gc off for as long as it works,
// however long that is. Each hold expires unless renewed, so a writer that died stops gc for a
// while, never for good.

import { RefugeError } from '../errors/index.ts';

/** How long a hold lasts unless renewed (a writer renews it well before). */
export const DEFAULT_HOLD_MS = 10 * 60_000;
/** The longest a hold may be asked for at once. */
export const MAX_HOLD_MS = 24 * 3600_000;

export interface GcHold {
  id: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

function checkTtl(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_HOLD_MS) {
    throw new RefugeError('bad_request', `a hold lasts more than 0 and at most ${MAX_HOLD_MS / 1000} seconds`);
  }
  return ttlMs;
}

export class GcHolds {
  readonly #expiries = new Map<string, number>();

  /** A new hold, for `ttlMs` unless renewed. */
  open(ttlMs = DEFAULT_HOLD_MS): GcHold {
    const expiresAt = Date.now() + checkTtl(ttlMs);
    const id = crypto.randomUUID();
    this.#expiries.set(id, expiresAt);
    return { id, expiresAt };
  }

  /** Extends hold `id` to `ttlMs` from now; `not_found` when it was released or has expired. */
  renew(id: string, ttlMs = DEFAULT_HOLD_MS): GcHold {
    checkTtl(ttlMs);
    this.#prune();
    if (!this.#expiries.has(id)) throw new RefugeError('not_found', `no hold ${id} (released, or expired)`);
    const expiresAt = Date.now() + ttlMs;
    this.#expiries.set(id, expiresAt);
    return { id, expiresAt };
  }

  /** True when the hold was there to release. */
  release(id: string): boolean {
    this.#prune();
    return this.#expiries.delete(id);
  }

  /** The holds in force. */
  list(): GcHold[] {
    this.#prune();
    return [...this.#expiries].map(([id, expiresAt]) => ({ id, expiresAt }));
  }

  /** How many holds are in force. */
  get count(): number {
    this.#prune();
    return this.#expiries.size;
  }

  #prune(): void {
    const now = Date.now();
    for (const [id, expiresAt] of this.#expiries) if (expiresAt <= now) this.#expiries.delete(id);
  }
}
