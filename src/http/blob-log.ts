// The node's recent blob changes for `/_blobs/_changes`: the store's in-process feed numbered with a
// sequence and kept in a bounded ring. Not durable: a restart starts a new epoch, and a client whose
// `since` is older than the ring (or from another epoch) is told to `reset` (re-list, then follow).

import { randomBytes } from 'node:crypto';
import { RefugeError } from '../errors/index.ts';
import type { BlobId, BlobStore } from '../blobs/index.ts';

export interface BlobChange {
  seq: number;
  type: 'added' | 'removed';
  id: BlobId;
  size?: number;
}

export interface ChangesSince {
  results: BlobChange[];
  /** The client's position is older than what the log still holds: re-enumerate, then follow. */
  reset: boolean;
}

/** A `since` as parsed from the wire. */
export type Since = { seq: number; epoch?: string } | 'now';

export const DEFAULT_LOG_CAPACITY = 10_000;

export class BlobChangeLog {
  /** Changes this process's log; part of every sequence it hands out. */
  readonly epoch = randomBytes(4).toString('hex');
  readonly #ring: BlobChange[] = [];
  #seq = 0;
  /** Every change up to this seq is no longer known (evicted, or dropped by a feed overflow). */
  #floor = 0;
  readonly #waiters = new Set<() => void>();
  readonly #ac = new AbortController();
  readonly #done: Promise<void>;

  constructor(
    store: BlobStore,
    private readonly capacity = DEFAULT_LOG_CAPACITY,
  ) {
    const feed = store.subscribe({ signal: this.#ac.signal, bufferSize: 65_536 });
    this.#done = (async () => {
      for await (const event of feed) {
        if (event.type === 'overflow') {
          this.#floor = ++this.#seq;
          this.#ring.length = 0;
        } else {
          const change: BlobChange = { seq: ++this.#seq, type: event.type, id: event.id };
          if (event.size !== undefined) change.size = event.size;
          this.#ring.push(change);
          if (this.#ring.length > this.capacity) this.#floor = this.#ring.splice(0, this.#ring.length - this.capacity).at(-1)!.seq;
        }
        for (const wake of this.#waiters) wake();
        this.#waiters.clear();
      }
    })();
  }

  get lastSeq(): number {
    return this.#seq;
  }

  /** The wire form of a sequence: `N-epoch`. */
  format(seq: number): string {
    return `${seq}-${this.epoch}`;
  }

  /** Parses `now`, `N` (this epoch) or `N-epoch`. */
  static parseSince(raw: string | undefined): Since {
    if (raw === undefined || raw === '') return { seq: 0 };
    if (raw === 'now') return 'now';
    const m = /^(\d{1,15})(?:-([0-9a-f]{1,32}))?$/.exec(raw);
    if (!m) throw new RefugeError('bad_request', "Malformed sequence supplied in 'since' parameter.");
    return m[2] === undefined ? { seq: Number(m[1]) } : { seq: Number(m[1]), epoch: m[2] };
  }

  /** The position `since` stands for here, or null when the client must reset. */
  resolve(since: Since): number | null {
    if (since === 'now') return this.#seq;
    if (since.epoch !== undefined && since.epoch !== this.epoch) return null;
    if (since.seq > this.#seq) return null; // a position this log never handed out
    if (since.seq < this.#floor) return null;
    return since.seq;
  }

  /** Changes after `seq` (a resolved position), at most `limit`. */
  after(seq: number, limit = Infinity): BlobChange[] {
    const first = this.#ring[0];
    if (!first) return [];
    const from = Math.max(0, seq - first.seq + 1);
    return this.#ring.slice(from, limit === Infinity ? undefined : from + limit);
  }

  /** Resolves once a change after `seq` exists, or when `signal` aborts. */
  wait(seq: number, signal: AbortSignal): Promise<void> {
    if (this.#seq > seq || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        signal.removeEventListener('abort', wake);
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  async close(): Promise<void> {
    this.#ac.abort();
    for (const wake of this.#waiters) wake();
    await this.#done.catch(() => undefined);
  }
}
