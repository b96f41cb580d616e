// How many changes lie after a sequence (CouchDB's `pending` in `_changes`), without walking the
// feed: the sequence entries (one per document) are counted per block of sequences in memory, kept
// by every committed write, so an answer is a sum over blocks plus a scan of at most one block.

import { RefugeError } from '../errors/index.ts';
import type { KvReader } from '../storage/index.ts';
import { SEQ, seqKey } from './keys.ts';

/** Sequences per block by default: the longest scan one answer may need. */
const SEQ_BLOCK = 256;

export class SeqCounts {
  /** Live sequence entries per block; null until counted (the first `pending` asked). */
  private blocks: Map<number, number> | null = null;
  /** The highest sequence ever counted or added: nothing lies after it (sequences only grow). */
  private last = 0;

  constructor(private readonly blockSize = SEQ_BLOCK) {}

  private blockOf(seq: number): number {
    return Math.floor(seq / this.blockSize);
  }

  get ready(): boolean {
    return this.blocks !== null;
  }

  /**
   * Counts every sequence entry in `reader`. The caller makes sure no write commits meanwhile
   * (the writer runs it as an exclusive job), so later `apply` calls start from exactly this state.
   */
  async count(reader: KvReader): Promise<void> {
    const blocks = new Map<number, number>();
    let last = 0;
    for await (const keys of reader.scanKeys({ gt: SEQ, lt: 's"' }, 4096)) {
      for (const key of keys) {
        const seq = Number.parseInt(key.slice(SEQ.length), 16);
        const b = this.blockOf(seq);
        blocks.set(b, (blocks.get(b) ?? 0) + 1);
        last = seq;
      }
    }
    this.blocks = blocks;
    this.last = last;
  }

  /** Drops the counts (storage was opened again after a failed write): counted anew when next asked. */
  forget(): void {
    this.blocks = null;
  }

  /** A committed write group's sequence entries: those it removed and those it added. */
  apply(removed: readonly number[], added: readonly number[]): void {
    const blocks = this.blocks;
    if (blocks === null) return;
    // Added first: a document written twice in one group adds a sequence and removes it again.
    for (const seq of added) {
      const b = this.blockOf(seq);
      blocks.set(b, (blocks.get(b) ?? 0) + 1);
      if (seq > this.last) this.last = seq;
    }
    for (const seq of removed) {
      const b = this.blockOf(seq);
      const n = (blocks.get(b) ?? 0) - 1;
      if (n > 0) blocks.set(b, n);
      else blocks.delete(b);
    }
  }

  /**
   * Entries after `seq` (exclusive). The whole blocks come from the counts, summed as the call is
   * made (before it awaits anything), the partial one from `reader`: called as a snapshot is taken,
   * with no write computed but not stored, the answer is the snapshot's. Otherwise a write
   * committing in between can make it off by what it wrote, as any `pending` of a database being
   * written is.
   */
  async after(reader: KvReader, seq: number): Promise<number> {
    const blocks = this.blocks;
    if (blocks === null) throw new RefugeError('internal', 'sequence counts asked before they were counted');
    // Asked from the end of the feed (`since=now`, a feed caught up): no block to scan.
    if (seq >= this.last) return 0;
    const first = this.blockOf(seq);
    let total = 0;
    for (const [b, n] of blocks) if (b > first) total += n;
    if (blocks.has(first)) {
      const end = (first + 1) * this.blockSize;
      for await (const keys of reader.scanKeys({ gt: seqKey(seq), lt: seqKey(end) }, this.blockSize)) total += keys.length;
    }
    return total;
  }
}
