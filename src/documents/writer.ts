// The single writer of a database, as a two-stage pipeline. Stage 1 applies queued requests to
// revision trees and builds one atomic change set per group (group commit); stage 2 flushes change
// sets to storage in order, merging whatever has accumulated. While one set is being written the
// next is computed, so CPU work and storage I/O overlap.
//
// Durability decides when a write is acknowledged: `durable` after its set is fsynced; `fast` as
// soon as stage 1 has applied it (it reaches storage within the next flush; a process crash can
// lose the unflushed tail, never corrupt). Reads wait for pending flushes, so a caller always
// reads its own writes.

import { RefugeError, isRefugeError, toRefugeError } from '../errors/index.ts';
import type { KvChain } from '../storage/index.ts';
import { encodeState, type DbCore, type DbState } from './core.ts';
import { META_KEY } from './keys.ts';
import { WriteBatch } from './write-batch.ts';

/**
 * How a job runs. `false`: with other writes in one group. `true`: alone, after every pending
 * flush, acknowledged once in storage (jobs that scan storage: index rebuild, purge, counts).
 * `'background'`: alone, but without waiting for ordinary writes to reach storage; it reads
 * through `pendingView()` and a storage snapshot taken together, and is acknowledged when computed
 * (compaction's passes: waiting for each flush held them ~250 ms apart under a steady stream of
 * writes, so they never caught up with it).
 */
export type JobMode = boolean | 'background';

type Job = {
  run: (batch: WriteBatch) => Promise<unknown>;
  exclusive: JobMode;
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
};

type Waiting = Array<{ job: Job; value: unknown }>;

/** Bounds on one change set and on unflushed keys, so memory stays bounded under any load. */
const MAX_GROUP_KEYS = 50_000;
/** How long ensureFullCommit reports lost fast-mode writes: longer than replicators wait between checkpoints. */
const LOSS_TOLD_MS = 120_000;
const MAX_PENDING_KEYS = 25_000;

export class Writer {
  private queue: Job[] = [];
  private running: Promise<void> | null = null;
  // Change sets computed since the last flush began go into one native batch (later ops win); the
  // readable keys among them (records, bodies) are also kept in `queued` for read-your-writes, and
  // in `inFlight` while that batch is being written. Maps keep lookups O(1) however many small
  // writes pile up; index keys never enter them.
  private queuedChain: KvChain | null = null;
  private queued: Map<string, string | null> | null = null;
  private queuedWaiting: Waiting = [];
  private inFlight: Map<string, string | null> | null = null;
  private flushing: Promise<void> | null = null;
  /** Resolved when the flusher takes the queued chain (see handedOver). */
  private takenWaiters: Array<() => void> = [];
  private closed = false;
  private failure: RefugeError | null = null;
  /**
   * Whether an exclusive (`true`) job's changes are still unflushed. A background job waits for
   * them: unlike ordinary writes (records, visible in the pending maps, and postings under new
   * tags), such a job may change any key.
   */
  private exclusiveUnflushed = false;
  /** Keys the last group of ordinary writes changed: a background job's pace (lastGroupKeys). */
  private lastWriteKeys = 0;

  /** The recovery under way after a failed flush (see recovered). */
  private recovering: Promise<void> | undefined;
  /** A failure that lost acknowledged (fast-mode) writes, until committed() tells it. */
  private lost: RefugeError | null = null;
  private lostAt = 0;
  private closedByRecovery = false;
  /** Counts recoveries: a group whose computation began before the last one is not committed. */
  private generation = 0;
  /** The counters as the last successful flush stored them (as opened, before any). */
  private storedState: DbState;

  constructor(
    private readonly core: DbCore,
    /** The refusal once closed (the database's: closed, or deleted). */
    private readonly closedError: () => RefugeError,
    private readonly onCommit: () => void,
    /**
     * Brings storage back after a failed flush (opens it again, reloads the counters from it), or
     * undefined where it cannot: then the database refuses writes until it is opened again.
     */
    private readonly recover?: () => Promise<void>,
  ) {
    this.storedState = core.state;
  }

  /** A flush failed and nothing brought storage back yet (see fail). */
  get failed(): boolean {
    return this.failure !== null;
  }

  /**
   * Whether reads must wait before reading storage: a recovery is closing and opening it, or one
   * closed it and could not open it again (after a failed write alone, storage is open and reads
   * go on as before).
   */
  get readsWait(): boolean {
    return this.recovering !== undefined || this.closedByRecovery;
  }

  /** For reads (see readsWait): waits out a recovery under way, and tries one if storage is closed. */
  async readable(): Promise<void> {
    if (this.recovering) await this.recovering.catch(() => undefined);
    if (this.closedByRecovery) await this.recovered();
  }

  submit<T>(run: (batch: WriteBatch) => Promise<T>, exclusive: JobMode = false): Promise<T> {
    if (this.failure) return this.recovered().then(() => this.submit(run, exclusive));
    if (this.closed) return Promise.reject(this.closedError());
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, exclusive, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** True while some acknowledged or computed writes are not yet in storage. */
  get hasPending(): boolean {
    return this.queuedChain !== null || this.flushing !== null;
  }

  /** Resolves when everything computed so far is in storage. */
  async flushed(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.failure) throw this.failure;
  }

  /**
   * Resolves when everything computed so far is in storage; throws when acknowledged writes are
   * known lost: storage is failed now, or a failed flush lost fast-mode writes less than
   * LOSS_TOLD_MS ago. Told to every caller in that time, not only the first: whose writes were
   * lost is not known, and each replicator asks before it checkpoints (then keeps its checkpoint
   * where it was and sends those writes again). `unavailable`: to be tried again, not fatal.
   */
  async committed(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.failure) throw this.failure;
    if (this.lost && Date.now() - this.lostAt < LOSS_TOLD_MS) {
      throw new RefugeError('unavailable', `writes acknowledged before ${new Date(this.lostAt).toISOString()} were lost when database ${this.core.name} failed to write; send them again`, { cause: this.lost });
    }
    this.lost = null;
  }

  /**
   * After a failed flush, the next write first brings storage back (one recovery for everyone
   * waiting): the failed writes are gone, the counters are storage's again, and work resumes, as
   * after a reopen. A full disk that was cleared needs no restart, for databases held for good too
   * (`_replicator`, an application's). Refused once closing, or where the engine cannot reopen.
   */
  private recovered(): Promise<void> {
    const failure = this.failure!;
    if (this.closed || !this.recover) return Promise.reject(failure);
    this.recovering ??= this.recover().then(
      () => {
        // Groups computed before this (from counters that counted the lost writes) are refused.
        this.generation++;
        this.storedState = this.core.state;
        this.closedByRecovery = false;
        this.failure = null;
        this.queuedChain = null;
        this.queued = null;
        this.inFlight = null;
        this.queuedWaiting = [];
        this.exclusiveUnflushed = false;
        this.recovering = undefined;
      },
      (err: unknown) => {
        this.recovering = undefined;
        // `unavailable` is a reopen refused before closing anything (no room yet: KvStore.reopen);
        // after any other failure storage may be closed.
        if (!isRefugeError(err, 'unavailable')) this.closedByRecovery = true;
        throw new RefugeError('internal', `database ${this.core.name} failed to write and could not be opened again`, { cause: toRefugeError(err) });
      },
    );
    return this.recovering;
  }

  /** The newest unflushed value of a key: a string, null (deleted), or undefined (not pending). */
  pendingValue(key: string): string | null | undefined {
    const v = this.queued?.get(key);
    return v !== undefined ? v : this.inFlight?.get(key);
  }

  /**
   * The unflushed values of readable keys (records, bodies, local docs) as they stand now, fixed.
   * Taken with a storage snapshot in the same synchronous step by a background job, it reads
   * those keys as of that moment: nothing else is computed while the job runs, and a flush only
   * moves into storage what these maps hold for them (sequence entries and postings are not here:
   * a background job reads no sequence entries, and merges postings by their group tags).
   */
  pendingView(): (key: string) => string | null | undefined {
    const queued = this.queued;
    const inFlight = this.inFlight;
    return (key) => {
      const v = queued?.get(key);
      return v !== undefined ? v : inFlight?.get(key);
    };
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
        } else if ((this.queuedChain?.length ?? 0) > MAX_PENDING_KEYS) await this.handedOver();
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
    const batch = new WriteBatch(this.core, (key) => this.pendingValue(key));
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
      this.queuedChain ??= this.core.store.chain();
      changes = batch.appendTo(this.queuedChain);
    } catch (error) {
      // appendTo checks every key before adding any: a refusal here leaves the chain untouched.
      for (const job of group.slice(0, taken)) job.reject(error);
      return;
    }
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
    this.flushing ??= this.flush();
  }

  /**
   * Back-pressure: resolves once the flusher has taken the queued chain to write it, so the next
   * group is computed while that write runs. Waiting for the whole flush instead would leave this
   * thread idle during every write, and the storage thread idle during every computation.
   */
  private handedOver(): Promise<void> {
    if (this.flushing === null || this.queuedChain === null) return Promise.resolve();
    return new Promise((resolve) => this.takenWaiters.push(resolve));
  }

  private releaseTakenWaiters(): void {
    const waiters = this.takenWaiters;
    this.takenWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async flush(): Promise<void> {
    // Never ends before `flushing` holds it: a flush with nothing to do (a failure, an empty queue)
    // would clear `flushing` in its finally first, then be stored, settled, for good; flushed()
    // would wait on it for ever and no flush would start again.
    await null;
    try {
      while (this.queuedChain !== null && !this.failure) {
        const chain = this.queuedChain;
        this.inFlight = this.queued;
        const waiting = this.queuedWaiting;
        this.queuedChain = null;
        this.queued = null;
        this.queuedWaiting = [];
        // The chain holds every group computed so far, so the counters as they stand now are
        // exactly its counters: stored once here rather than once per group.
        const state = this.core.state;
        chain.put(META_KEY, encodeState(state));
        this.releaseTakenWaiters();
        try {
          await chain.write({ sync: this.core.durability === 'durable' });
          this.storedState = state;
        } catch (err) {
          this.fail(err, waiting);
          return;
        } finally {
          this.inFlight = null;
        }
        for (const w of waiting) w.job.resolve(w.value);
        if (waiting.length > 0) this.onCommit();
      }
    } finally {
      this.flushing = null;
      this.releaseTakenWaiters();
    }
  }

  /** A failed flush loses acknowledged fast-mode writes: writes are refused until storage is back (recovered). */
  private fail(err: unknown, waiting: Waiting): void {
    this.failure = new RefugeError('internal', `database ${this.core.name} failed to write`, {
      cause: toRefugeError(err),
    });
    for (const w of [...waiting, ...this.queuedWaiting]) w.job.reject(this.failure);
    // Fast mode acknowledges writes before they are flushed: some of those were in this chain.
    if (this.core.durability === 'fast') {
      this.lost = this.failure;
      this.lostAt = Date.now();
    }
    void this.queuedChain?.close().catch(() => undefined);
    this.queuedChain = null;
    this.queued = null;
    this.queuedWaiting = [];
    // The counters go back to what storage holds: until storage is back, info and changes must
    // not count writes that are not there (a sequence read now would be given again after).
    this.core.state = this.storedState;
    this.core.seqCounts.forget();
    this.core.idCounts.forget();
  }
}
