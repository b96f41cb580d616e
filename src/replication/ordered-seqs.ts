// Batches finish out of order when several are in flight; a checkpoint may only name a sequence
// once every batch before it is written too. This keeps the longest finished prefix.

import type { Seq } from './peer.ts';

export class OrderedSeqs {
  private readonly queue: Array<{ seq: Seq; done: boolean }> = [];
  private settled: Seq | undefined;

  /** Registers the next batch (in changes-feed order); call `finish` once it is written. */
  add(seq: Seq): { finish: () => void } {
    const entry = { seq, done: false };
    this.queue.push(entry);
    return {
      finish: () => {
        entry.done = true;
        while (this.queue[0]?.done) this.settled = this.queue.shift()!.seq;
      },
    };
  }

  /** The last sequence up to which every batch is written, if any. */
  get completed(): Seq | undefined {
    return this.settled;
  }

  get unfinished(): number {
    return this.queue.length;
  }
}

/** Sequences are opaque, but equal ones serialise equally (numbers and strings never mix in a feed). */
export const sameSeq = (a: Seq | undefined, b: Seq | undefined): boolean => a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));
