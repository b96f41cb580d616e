// When a replication checkpoints: the fully written prefix, one checkpoint at a time and in order,
// no more often than the checkpoint interval unless forced, and one last bounded try at the end;
// and when a quiet feed's source is checked for being the one the checkpoints name.

import { LOWEST_SEQ, type Checkpointer, type SessionStats } from './checkpoint.ts';
import type { Call } from './batch.ts';
import type { ResolvedOptions } from './options.ts';
import { sameSeq } from './ordered-seqs.ts';
import type { Seq } from './peer.ts';
import { timeoutSignal } from './retry.ts';

const FINAL_CHECKPOINT_MS = 10_000;

/** What the queue asks of its replication, each at the moment it needs it. */
export interface CheckpointHost {
  /** The fully written prefix (OrderedSeqs.completed): what a checkpoint records. */
  completed(): Seq | undefined;
  /** The session's signal. */
  signal(): AbortSignal;
  /** Runs one peer call with the replication's retries. */
  call: Call;
  fail(err: unknown): void;
  /** Told after each checkpoint recorded, `seq` already moved to it. */
  recorded(): void;
}

export class CheckpointQueue {
  /** The session's (see beginSession). */
  checkpointer: Checkpointer | undefined;
  /** The last seq recorded, or where the session started. */
  seq: Seq = LOWEST_SEQ;
  private chain: Promise<void> = Promise.resolve();
  private lastAt = 0;
  /** When the source was last checked for being replaced (checkQuietSource). */
  private sourceCheckedAt = Date.now();

  constructor(
    private readonly options: Pick<ResolvedOptions, 'checkpoints' | 'checkpointInterval' | 'longpollTimeoutMs'>,
    private readonly stats: SessionStats,
    private readonly host: CheckpointHost,
  ) {}

  /** Resolves once every checkpoint queued so far has run. */
  get idle(): Promise<void> {
    return this.chain;
  }

  /** Queues a checkpoint of the written prefix; checkpoints run one at a time, in order. */
  request(force: boolean): Promise<void> {
    if (!this.options.checkpoints) return Promise.resolve();
    const interval = this.options.checkpointInterval;
    if (!force && interval > 0 && Date.now() - this.lastAt < interval) return Promise.resolve();
    this.chain = this.chain.then(async () => {
      const seq = this.host.completed();
      if (seq === undefined || sameSeq(seq, this.seq) || this.host.signal().aborted) return;
      try {
        await this.host.call(() => this.checkpointer!.write(seq, this.stats, this.host.signal()));
        this.note(seq);
      } catch (err) {
        this.host.fail(err);
      }
    });
    return this.chain;
  }

  /** After a cancel or a failure: one unretried attempt to save what was fully written. */
  async final(): Promise<void> {
    await this.chain;
    if (!this.options.checkpoints) return;
    const seq = this.host.completed();
    if (!this.checkpointer || seq === undefined || sameSeq(seq, this.seq)) return;
    // Bounded: when the failure was a peer gone silent, reporting it must not wait on that peer.
    const limit = timeoutSignal(undefined, FINAL_CHECKPOINT_MS);
    try {
      await this.checkpointer.write(seq, this.stats, limit.signal);
      this.note(seq);
    } catch {
      // The next run resumes from the previous checkpoint; re-sent batches are answered by revs_diff.
    } finally {
      limit.clear();
    }
  }

  /**
   * A quiet feed may be one on a database replaced under the same name (Checkpointer.checkSource).
   * A long poll that comes back empty where it began has waited its timeout, or its database went
   * away: the source is checked each time. Short polls come back every poll interval: checked once
   * per long-poll timeout, which is already how long a replaced source may go unnoticed with a long poll.
   */
  async checkQuietSource(longpoll: boolean | undefined): Promise<void> {
    const now = Date.now();
    if (!longpoll && now - this.sourceCheckedAt < this.options.longpollTimeoutMs) return;
    this.sourceCheckedAt = now;
    await this.host.call(() => this.checkpointer!.checkSource(this.host.signal()));
  }

  private note(seq: Seq): void {
    this.seq = seq;
    this.lastAt = Date.now();
    this.host.recorded();
  }
}
