// The writer's kept ops (writer-flush.ts): in fast mode a bulk group's storage ops wait in plain
// arrays for the flush, a turn later, so the engine's own puts run after the write is answered.

import { onNextTurn } from '../platform/next-turn.ts';
import type { KvChain } from '../storage/index.ts';

/** What a write group's ops are appended to: a storage chain, or a buffer in front of one. */
export type OpSink = Pick<KvChain, 'put' | 'del'>;

/**
 * In fast mode, the ops of groups of at least this many keys (bulk writes) are kept for the flush;
 * smaller ones (single puts) go in as they are computed.
 */
export const BULK_GROUP_KEYS = 256;

/** Bulk groups that go in as computed after one was not left a turn (see cameBackToBack). */
const BACK_TO_BACK_GROUPS = 16;

/** Storage ops in order, to be added to a chain later. */
class OpBuffer implements OpSink {
  readonly keys: string[] = [];
  /** Per key, its value, or null for a delete. */
  readonly values: Array<string | null> = [];

  put(key: string, value: string): void {
    this.keys.push(key);
    this.values.push(value);
  }

  del(key: string): void {
    this.keys.push(key);
    this.values.push(null);
  }
}

/**
 * The ops of the last bulk group, kept in order for the flush, which waits for the next turn: the
 * engine's puts of a request (LevelDB converts every key and value, ~2 ms for 1,000 documents) then
 * run after it is answered, while its client reads the answer and sends the next (a server's
 * thread was idle 11-14% of an http.bulk_docs fill). Only the last group's are kept: the next
 * group's adds them to the chain before its own (takeInto), so the chain takes every op in the
 * order of the groups (a later op on a key wins), and no more than one group's ops wait in the heap.
 * Single puts in a loop have no idle turn to fill: they go in as they are computed.
 */
export class KeptOps {
  private ops: OpBuffer | null = null;
  /** Bulk groups still to go in as computed, their writes coming back to back. */
  private backToBack = 0;
  /** Whether the event loop turned since ops were last kept. */
  private turned = true;

  /** `enabled`: the database acknowledges writes before they are stored (fast mode). */
  constructor(private readonly enabled: boolean) {}

  /** Whether a group's ops are kept now. */
  get held(): boolean {
    return this.ops !== null;
  }

  get length(): number {
    return this.ops?.keys.length ?? 0;
  }

  /** Adds the kept ops (if any) to `chain`, in order, and keeps them no more. */
  takeInto(chain: OpSink): void {
    const ops = this.ops;
    if (ops === null) return;
    this.ops = null;
    const { keys, values } = ops;
    for (let i = 0; i < keys.length; i++) {
      const value = values[i]!;
      if (value === null) chain.del(keys[i]!);
      else chain.put(keys[i]!, value);
    }
  }

  /** Where a group of `keys` keys goes, once kept ops are in `chain` (takeInto): `chain`, or a buffer kept. */
  sinkFor(keys: number, chain: OpSink): OpSink {
    if (!this.enabled || keys < BULK_GROUP_KEYS) return chain;
    if (this.backToBack > 0) {
      this.backToBack--;
      return chain;
    }
    if (this.turned) {
      this.turned = false;
      onNextTurn(() => (this.turned = true));
    }
    return (this.ops = new OpBuffer());
  }

  /**
   * A group is about to be computed: true if ops are kept and the event loop has not turned since,
   * so the writes come back to back (an import, a loop of bulk writes). There is no idle turn to
   * fill then, and keeping ops costs (their strings live longer: main thread 0.4-1.1 µs a document
   * more in a 100k-doc loop): the caller starts their flush now, and the next bulk groups go in as
   * computed, until keeping is tried again.
   */
  cameBackToBack(): boolean {
    if (this.ops === null || this.turned) return false;
    this.backToBack = BACK_TO_BACK_GROUPS;
    return true;
  }

  /** Drops the kept ops (a failed flush drops everything queued). */
  clear(): void {
    this.ops = null;
  }
}
