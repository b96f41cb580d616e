// The single writer of a database, as a two-stage pipeline. Stage 1 applies queued requests to
// revision trees and builds one atomic change set per group (group commit); stage 2 flushes change
// sets to storage in order, merging whatever has accumulated. While one set is being written the
// next is computed, so CPU work and storage I/O overlap.
//
// Durability decides when a write is acknowledged: `durable` after its set is fsynced; `fast` as
// soon as stage 1 has applied it (it reaches storage within the next flush; a process crash can
// lose the unflushed tail, never corrupt). Reads wait for pending flushes, so a caller always
// reads its own writes.
//
// Stage 2, the flush to storage and the recovery after a failed one, is WriterFlush (writer-flush.ts).

import { RefugeError } from '../errors/index.ts';
import type { DbCore } from './core.ts';
import { WriteBatch } from './write-batch.ts';
import { WriterFlush } from './writer-flush.ts';

/**
 * How a job runs. `false`: with other writes in one group. `true`: alone, after every pending
 * flush, acknowledged once in storage (jobs that scan storage: index rebuild, purge, counts).
 * `'background'`: alone, but without waiting for ordinary writes to reach storage; it reads
 * through `pendingView()` and a storage snapshot taken together, and is acknowledged when computed
 * (compaction's passes: waiting for each flush held them ~250 ms apart under a steady stream of
 * writes, so they never caught up with it).
 */
export type JobMode = boolean | 'background';

export type Job = {
  run: (batch: WriteBatch) => Promise<unknown>;
  exclusive: JobMode;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
};

/**
 * Bounds on one change set and on unflushed keys, so memory stays bounded under any load. Past
 * MAX_PENDING_KEYS queued behind a flush (keys in the chain, and the entries of the postings run
 * held for it: queuedKeys), the next group waits for the flusher to take them. At
 * 25,000, a 100k-doc bulk load that storage could not keep up with held more than it gained: the
 * docs benchmark's peak RSS was 279-285 MB against 261-278 at 8,000, its insert ratio the same
 * (run medians 2.22-2.61 against 2.30-2.61).
 */
const MAX_GROUP_KEYS = 50_000;
export const MAX_PENDING_KEYS = 8_000;

export class Writer extends WriterFlush {
  private queue: Job[] = [];
  private running: Promise<void> | null = null;
  /** Keys the last group of ordinary writes changed: a background job's pace (lastGroupKeys). */
  private lastWriteKeys = 0;

  constructor(
    core: DbCore,
    /** The refusal once closed (the database's: closed, or deleted). */
    private readonly closedError: () => RefugeError,
    onCommit: () => void,
    /**
     * Brings storage back after a failed flush (opens it again, reloads the counters from it), or
     * undefined where it cannot: then the database refuses writes until it is opened again.
     */
    recover?: () => Promise<void>,
  ) {
    super(core, onCommit, recover);
  }

  submit<T>(run: (batch: WriteBatch) => Promise<T>, exclusive: JobMode = false): Promise<T> {
    if (this.failure) return this.recovered().then(() => this.submit(run, exclusive));
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, exclusive, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /**
   * How many keys the last group of ordinary writes changed. A background pass that visits at
   * least as many records per job as the writes in between add keeps ahead of them, and ends.
   */
  get lastGroupKeys(): number {
    return this.lastWriteKeys;
  }

  /** Finishes queued and pending writes, then refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.running;
    // A recovery under way finishes (storage open again) before the database closes storage.
    await this.recovering?.catch(() => undefined);
    await this.flushed().catch(() => undefined);
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.takeGroup();
        const mode = group[0]!.exclusive;
        if (mode === true || (mode === 'background' && this.exclusiveUnflushed)) {
          // Nothing is computed while this waits: once it returns, everything is in storage.
          await this.flushed().catch(() => undefined);
          this.exclusiveUnflushed = false;
        } else if (this.queuedKeys > MAX_PENDING_KEYS) await this.handedOver();
        await this.computeGroup(group);
      }
    } finally {
      this.running = null;
    }
  }

  private takeGroup(): Job[] {
    const first = this.queue.shift()!;
    if (first.exclusive) return [first];
    const group = [first];
    while (this.queue.length > 0 && !this.queue[0]!.exclusive) group.push(this.queue.shift()!);
    return group;
  }

  private async computeGroup(group: Job[]): Promise<void> {
    if (this.failure) {
      for (const job of group) job.reject(this.failure);
      return;
    }
    // Jobs validate arguments before queueing and report per-document failures as results, so a
    // throw here is a storage failure: the whole group fails and nothing of it is kept.
    const generation = this.generation;
    this.groupStarts();
    const batch = new WriteBatch(this.core, this.pending);
    const values: unknown[] = [];
    let taken = group.length;
    try {
      for (let i = 0; i < group.length; i++) {
        if (i > 0 && batch.size > MAX_GROUP_KEYS) {
          taken = i;
          this.queue.unshift(...group.slice(i));
          break;
        }
        batch.startJob();
        values.push(await group[i]!.run(batch));
      }
    } catch (error) {
      for (const job of group.slice(0, taken)) job.reject(error);
      return;
    }
    // A flush may have failed while the jobs ran (they wait on reads, and a long bulk write lets
    // other work run): nothing of this group may be queued, seen or acknowledged after that.
    // A recovery since this group began (it ran while storage was failed, from counters that
    // counted lost writes) leaves its changes unusable too.
    if (this.failure || this.generation !== generation) {
      const refusal = this.failure ?? new RefugeError('unavailable', `database ${this.core.name} failed to write while this was computed; try again`);
      for (const job of group.slice(0, taken)) job.reject(refusal);
      return;
    }
    let changes: Map<string, string | null>;
    try {
      changes = batch.appendTo(this.opsFor(batch.size), this);
    } catch (error) {
      // appendTo checks every key before adding any: a refusal leaves none of this group's ops in
      // the chain. (opsFor may first have added an earlier, acknowledged group's kept ops; if that
      // fails, the writer has failed, and this group is refused with that failure.)
      for (const job of group.slice(0, taken)) job.reject(error);
      return;
    }
    // The group's counters, but the tag counter as the writer moved it (addPostings, flushes).
    batch.state.indexGroup = this.core.state.indexGroup;
    this.core.state = batch.state;
    this.core.seqCounts.apply(batch.seqRemoved, batch.seqAdded);
    if (batch.liveDeltas) this.core.idCounts.apply(batch.liveDeltas);
    const mode = group[0]!.exclusive;
    const ackNow = mode === 'background' || (this.core.durability === 'fast' && !mode);
    if (mode === true) this.exclusiveUnflushed = true;
    if (!mode) this.lastWriteKeys = batch.size;
    if (this.queued === null) this.queued = changes;
    else for (const [k, v] of changes) this.queued.set(k, v);
    for (let i = 0; i < taken; i++) {
      if (ackNow) group[i]!.resolve(values[i]);
      else this.queuedWaiting.push({ job: group[i]!, value: values[i] });
    }
    if (ackNow) this.onCommit();
    this.startFlush();
  }

}
