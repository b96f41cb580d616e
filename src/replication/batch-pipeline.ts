// A replication's batches in flight: at most batchesInFlight at once, finishing in any order, their
// seqs kept in feed order (a checkpoint names only a fully written prefix) and their counts summed.

import type { SessionStats } from './checkpoint.ts';
import { replicateBatch, type BatchResult, type Call } from './batch.ts';
import { OrderedSeqs } from './ordered-seqs.ts';
import type { PeerChangeRow, ReplicationPeer, Seq } from './peer.ts';

/** What the pipeline asks of its replication, each at the moment it needs it. */
export interface PipelineHost {
  /** Runs one peer call with the replication's retries. */
  call: Call;
  /** The session's signal. */
  signal(): AbortSignal;
  /** Told each batch written, its counts summed and its seq in `completed` already. */
  written(result: BatchResult): Promise<void>;
  fail(err: unknown): void;
}

export class BatchPipeline {
  /** Summed over every session: what checkpoints and progress report. */
  readonly stats: SessionStats = { docsRead: 0, docsWritten: 0, docWriteFailures: 0, missingChecked: 0, missingFound: 0 };
  private seqs = new OrderedSeqs();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly source: ReplicationPeer,
    private readonly target: ReplicationPeer,
    private readonly width: number,
    private readonly host: PipelineHost,
  ) {}

  /** The last seq up to which every batch is written, if any. */
  get completed(): Seq | undefined {
    return this.seqs.completed;
  }

  /** Starts a batch of `rows` once fewer than `width` are in flight; false when the session ended meanwhile. */
  async add(rows: PeerChangeRow[], lastSeq: Seq): Promise<boolean> {
    while (this.inFlight.size >= this.width) await Promise.race(this.inFlight);
    if (this.host.signal().aborted) return false;
    const slot = this.seqs.add(lastSeq);
    const work = replicateBatch(rows, this.source, this.target, this.host.call, this.host.signal())
      .then((result) => {
        slot.finish();
        this.count(result);
        return this.host.written(result);
      })
      .catch((err) => this.host.fail(err))
      .finally(() => this.inFlight.delete(work));
    this.inFlight.add(work);
    return true;
  }

  /** A page without rows (a filtered feed moving on): its seq is written once those before it are. */
  skip(seq: Seq): void {
    this.seqs.add(seq).finish();
  }

  /** Waits for every batch in flight to finish (they never reject: failures go to `fail`). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /** A new session, once settled: its seqs are its own. */
  restart(): void {
    this.seqs = new OrderedSeqs();
  }

  private count(result: BatchResult): void {
    this.stats.docsRead += result.docsRead;
    this.stats.docsWritten += result.docsWritten;
    this.stats.docWriteFailures += result.docWriteFailures;
    this.stats.missingChecked += result.missingChecked;
    this.stats.missingFound += result.missingFound;
  }
}
