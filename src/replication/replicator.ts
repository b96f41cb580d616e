// One replication from a source peer to a target peer: reads the changes feed in order, runs a few
// batches at once, checkpoints only fully written prefixes, and retries transient failures.

import { randomUuid } from '../documents/index.ts';
import { RefugeError, toRefugeError } from '../errors/index.ts';
import type { BatchResult } from './batch.ts';
import { BatchPipeline } from './batch-pipeline.ts';
import { LOWEST_SEQ } from './checkpoint.ts';
import { CheckpointQueue } from './checkpoint-queue.ts';
import { Emitter } from './emitter.ts';
import type { ReplicationEvents, ReplicationProgress, ReplicationReport } from './events.ts';
import { resolveOptions, type ReplicateOptions, type ResolvedOptions } from './options.ts';
import { beginSession } from './session-start.ts';
import { sameSeq } from './ordered-seqs.ts';
import { ChangesReader } from './changes-reader.ts';
import type { ReplicationPeer, Seq } from './peer.ts';
import { sleep } from '../platform/sleep.ts';
import { Restarts } from './restarts.ts';
import { retrying, type RetryHooks } from './retry.ts';
import { toPeer, type PeerLike } from './to-peer.ts';

export { MAX_RESTARTS } from './restarts.ts';

export class Replication extends Emitter<ReplicationEvents> {
  readonly done: Promise<ReplicationReport>;
  /** This session's; a restart (see restartAfter) begins another. */
  sessionId = randomUuid();
  readonly startTime = new Date().toISOString();
  replicationId: string | undefined;
  /** Resolves with `replicationId` once both peers have answered; rejects if the replication ends first. */
  readonly idKnown: Promise<string>;
  private settleId!: { resolve: (id: string) => void; reject: (err: unknown) => void };

  private readonly options: ResolvedOptions;
  /** The session's: a restart aborts what the old session left running and takes a new one. */
  private controller = new AbortController();
  private readonly batches: BatchPipeline;
  private readonly checkpoints: CheckpointQueue;
  private startSeq: Seq = LOWEST_SEQ;
  private lastSeq: Seq = LOWEST_SEQ;
  private pending: number | undefined;
  private state: 'starting' | 'active' | 'paused' | 'finished' = 'starting';
  private caughtUp = false;
  /**
   * Whether changes should carry the documents (when the source can): worth it while most of what
   * the changes name is missing on the target, as in a first replication; a waste when the target
   * already has it. Judged again after every batch.
   */
  private carryDocs = false;
  private cancelled = false;
  private fatal: unknown;
  private readonly restarts: Restarts;
  private sourceReplaced = false;
  private readonly feed: ChangesReader;

  constructor(
    readonly source: ReplicationPeer,
    readonly target: ReplicationPeer,
    options: ReplicateOptions = {},
  ) {
    super();
    this.options = resolveOptions(options);
    this.restarts = new Restarts(this.options);
    this.feed = new ChangesReader(source, this.options, (fn) => this.call(fn));
    this.batches = new BatchPipeline(source, target, this.options.batchesInFlight, {
      call: (fn) => this.call(fn),
      signal: () => this.signal,
      written: (result) => {
        this.record(result);
        return this.checkpoints.request(false);
      },
      fail: (err) => this.fail(err),
    });
    this.checkpoints = new CheckpointQueue(this.options, this.batches.stats, {
      completed: () => this.batches.completed,
      signal: () => this.signal,
      call: (fn) => this.call(fn),
      fail: (err) => this.fail(err),
      recorded: () => this.noteCheckpoint(),
    });
    // Start on the next tick so listeners attached right after construction see every event.
    this.idKnown = new Promise((resolve, reject) => (this.settleId = { resolve, reject }));
    this.idKnown.catch(() => undefined);
    this.done = Promise.resolve().then(() => this.run());
    // Callers may only listen to events; a rejection nobody awaits must not crash the process.
    this.done.then(
      () => this.settleId.reject(new RefugeError('closed', 'the replication ended before it started')),
      (err) => this.settleId.reject(err),
    );
  }

  /** Stops as soon as possible; `done` then resolves with status 'cancelled'. */
  cancel(): void {
    if (this.state === 'finished' || this.cancelled) return;
    this.cancelled = true;
    this.controller.abort(new RefugeError('closed', 'replication cancelled'));
  }

  /** How often progress is checkpointed, in milliseconds (CouchDB's `checkpoint_interval`). */
  get checkpointInterval(): number {
    return this.options.checkpointInterval;
  }

  get progress(): ReplicationProgress {
    const p: ReplicationProgress = { ...this.batches.stats, checkpointedSeq: this.checkpoints.seq, lastSeq: this.lastSeq, throughSeq: this.batches.completed ?? this.checkpoints.seq };
    if (this.pending !== undefined) p.pending = this.pending;
    return p;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async run(): Promise<ReplicationReport> {
    do {
      try {
        await this.prepare();
        this.setState('active');
        try {
          await this.readChanges();
        } finally {
          this.feed.close();
        }
        await this.batches.settle();
        if (this.fatal === undefined && !this.cancelled) await this.checkpoints.request(true);
        await this.checkpoints.idle;
      } catch (err) {
        if (!this.cancelled) this.fail(err);
      }
    } while (await this.restartAfter());
    if (this.fatal !== undefined) {
      await this.batches.settle();
      await this.checkpoints.final();
      const error = toRefugeError(this.fatal);
      this.state = 'finished';
      this.emit('error', error);
      throw error;
    }
    if (this.cancelled) {
      await this.batches.settle();
      await this.checkpoints.final();
    }
    this.state = 'finished';
    const report: ReplicationReport = {
      ok: true,
      status: this.cancelled ? 'cancelled' : 'complete',
      replicationId: this.replicationId,
      sessionId: this.sessionId,
      startTime: this.startTime,
      endTime: new Date().toISOString(),
      startSeq: this.startSeq,
      history: this.checkpoints.checkpointer?.history ?? [],
      ...this.progress,
    };
    this.emit('complete', report);
    return report;
  }

  /** A new session after a failure that restarts (restarts.ts) rather than ending the replication. */
  private async restartAfter(): Promise<boolean> {
    const error = this.fatal;
    if (this.cancelled || !this.restarts.allow(error)) return false;
    await this.batches.settle();
    await this.checkpoints.idle;
    if (this.cancelled) return false;
    this.fatal = undefined;
    this.controller = new AbortController();
    const delayMs = this.restarts.take(error);
    if (delayMs !== undefined) {
      this.setState('paused', toRefugeError(error));
      // Cancelled meanwhile: the run ends as cancelled.
      if (!(await sleep(delayMs, this.signal).then(() => !this.cancelled, () => false))) return false;
    }
    this.sourceReplaced ||= this.checkpoints.checkpointer?.sourceReplaced === true;
    this.batches.restart();
    this.caughtUp = false;
    this.pending = undefined;
    this.feed.restart();
    this.sessionId = randomUuid();
    this.emit('restart', { error, restarts: this.restarts.count });
    return true;
  }

  private async prepare(): Promise<void> {
    const { source, target, options } = this;
    const begun = await beginSession(source, target, options, {
      call: (fn) => this.call(fn),
      signal: this.signal,
      // A restart's session is a new one in the logs: the old one's entries name the old databases.
      session: { sessionId: this.sessionId, startTime: this.restarts.afterRefusal ? new Date().toISOString() : this.startTime },
      sourceReplaced: this.sourceReplaced,
      onId: (id) => {
        this.replicationId = id;
        this.settleId.resolve(id);
      },
      onEarlyId: (id) => (this.replicationId = id),
    });
    this.startSeq = begun.startSeq;
    this.carryDocs = source.capabilities.changesDocs === true && sameSeq(this.startSeq, LOWEST_SEQ);
    this.checkpoints.checkpointer = begun.checkpointer;
    this.lastSeq = this.checkpoints.seq = this.startSeq;
  }

  /** The reader: changes batches strictly in order, handed to at most `batchesInFlight` writers. */
  private async readChanges(): Promise<void> {
    const { source, options } = this;
    const longpoll = source.capabilities.longpoll;
    let since = this.startSeq;
    while (!this.signal.aborted) {
      if (this.caughtUp && !longpoll) await sleep(options.pollIntervalMs, this.signal);
      const changes = await this.feed.page(since, this.caughtUp && longpoll, this.carryDocs, this.signal);
      // An answer past the source's size limit: the page is asked again, smaller.
      if (changes === undefined) continue;
      if (this.signal.aborted) return;
      const moved = !sameSeq(changes.lastSeq, since);
      since = this.lastSeq = changes.lastSeq;
      // A streamed feed's pages before its last do not know it: counted down from the last known.
      if (changes.pending !== undefined) this.pending = changes.pending;
      else if (this.pending !== undefined) this.pending = Math.max(0, this.pending - changes.results.length);
      if (changes.results.length > 0) {
        if (this.caughtUp) this.setState('active');
        this.caughtUp = false;
        if (!(await this.batches.add(changes.results, changes.lastSeq))) return;
      } else {
        // A filtered feed moves on without rows; checkpointing that seq spares the rescan.
        this.batches.skip(changes.lastSeq);
        if (this.caughtUp && !moved) await this.checkpoints.checkQuietSource(longpoll);
      }
      if (changes.results.length < this.feed.limit) {
        if (!options.continuous) return;
        if (!this.caughtUp) {
          await this.batches.settle();
          if (this.signal.aborted) return;
          await this.checkpoints.request(true);
          this.caughtUp = true;
          this.setState('paused');
        }
      }
    }
  }

  /** A batch written: whether to carry documents is judged again, and listeners told. */
  private record(result: BatchResult): void {
    if (this.source.capabilities.changesDocs === true && result.missingChecked > 0) {
      this.carryDocs = result.missingFound * 2 >= result.missingChecked;
    }
    this.emit('change', { ...this.progress, docs: result.docs, failures: result.failures });
  }

  private noteCheckpoint(): void {
    this.restarts.recorded();
    this.sourceReplaced = false;
    this.emit('checkpoint', this.progress);
  }

  private fail(err: unknown): void {
    if (this.cancelled || this.fatal !== undefined) return;
    this.fatal = err;
    this.controller.abort(err);
  }

  private setState(state: 'active' | 'paused', error?: RefugeError): void {
    if (this.state === 'finished' || (this.state === state && !error)) return;
    this.state = state;
    if (state === 'active') this.emit('active', this.progress);
    else this.emit('paused', error ? { ...this.progress, error } : this.progress);
  }

  /** Runs one peer call, backing off and retrying while the failure is transient. */
  private call<T>(fn: () => Promise<T>): Promise<T> {
    return retrying(fn, this.options.retry, () => this.signal, this.retryHooks);
  }

  private readonly retryHooks: RetryHooks = {
    retry: (error, attempt, delayMs) => {
      this.emit('retry', { error, attempt, delayMs });
      this.setState('paused', error);
    },
    recovered: () => {
      this.setState('active');
      if (this.caughtUp) this.setState('paused');
    },
  };
}

/** Starts replicating `source` into `target` (peers, Databases or URLs); see ReplicateOptions. */
export function replicate(source: PeerLike, target: PeerLike, options: ReplicateOptions = {}): Replication {
  return new Replication(toPeer(source), toPeer(target), options);
}
