// The writer's stage 2 (writer.ts): flushes the change sets stage 1 computed to storage in order,
// merging whatever has accumulated, keeps their readable keys for read-your-writes until written,
// and after a failed flush refuses writes until storage is brought back (recovered).

import { RefugeError, isRefugeError, toRefugeError } from '../errors/index.ts';
import { onNextTurn } from '../platform/next-turn.ts';
import type { KvChain } from '../storage/index.ts';
import type { PostingSink } from './batch-changes.ts';
import { encodeState, type DbCore, type DbState } from './core.ts';
import { META_KEY } from './keys.ts';
import { KeptOps, type OpSink } from './kept-ops.ts';
import { groupTag, PostingRun, type PostingCollector } from './postings.ts';
import type { Job } from './writer.ts';

type Waiting = Array<{ job: Job; value: unknown }>;

/** How long ensureFullCommit reports lost fast-mode writes: longer than replicators wait between checkpoints. */
const LOSS_TOLD_MS = 120_000;

/** Keys past which a deferred flush (see startFlush) starts at once: one engine call never grows long. */
export const DEFERRED_MAX_KEYS = 4096;

/**
 * Groups with fewer posting entries than this join the queued chain's run of postings (PostingRun),
 * written under one tag with the chain; larger ones (bulk writes, which fill their own keys) are
 * written at once under a tag of their own.
 */
export const RUN_MAX_GROUP_ENTRIES = 256;

export class WriterFlush implements PostingSink {
  // Change sets computed since the last flush began go into one native batch (later ops win); the
  // readable keys among them (records, bodies) are also kept in `queued` for read-your-writes, and
  // in `inFlight` while that batch is being written. Maps keep lookups O(1) however many small
  // writes pile up; index keys never enter them.
  protected queuedChain: KvChain | null = null;
  /** The postings of the small groups appended to `queuedChain` since its last tagged posting. */
  private queuedRun: PostingRun | null = null;
  /** The last bulk group's ops, for the flush (or the next group) to add to `queuedChain` (kept-ops.ts). */
  private readonly kept: KeptOps;
  protected queued: Map<string, string | null> | null = null;
  protected queuedWaiting: Waiting = [];
  private inFlight: Map<string, string | null> | null = null;
  protected flushing: Promise<void> | null = null;
  /** Resolved when the flusher takes the queued chain (see handedOver). */
  private takenWaiters: Array<() => void> = [];
  /** Starts a flush that waits for the next turn (see startFlush) now, while one waits. */
  private hurry: (() => void) | null = null;
  /** Whether flushes wait for the next turn before they start (see startFlush). */
  private readonly defers: boolean;
  protected closed = false;
  protected failure: RefugeError | null = null;
  /**
   * Whether an exclusive (`true`) job's changes are still unflushed. A background job waits for
   * them: unlike ordinary writes (records, visible in the pending maps, and postings under new
   * tags), such a job may change any key.
   */
  protected exclusiveUnflushed = false;

  /** The recovery under way after a failed flush (see recovered). */
  protected recovering: Promise<void> | undefined;
  /** A failure that lost acknowledged (fast-mode) writes, until committed() tells it. */
  private lost: RefugeError | null = null;
  private lostAt = 0;
  private closedByRecovery = false;
  /** Counts recoveries: a group whose computation began before the last one is not committed. */
  protected generation = 0;
  /** The counters as the last successful flush stored them (as opened, before any). */
  private storedState: DbState;

  constructor(
    protected readonly core: DbCore,
    protected readonly onCommit: () => void,
    /** Brings storage back after a failed flush, where it can (see Writer's constructor). */
    private readonly recover?: () => Promise<void>,
  ) {
    this.storedState = core.state;
    this.defers = core.durability === 'fast' && !core.store.capabilities.persistent;
    this.kept = new KeptOps(core.durability === 'fast');
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

  /** True while some acknowledged or computed writes are not yet in storage. */
  get hasPending(): boolean {
    return this.queuedChain !== null || this.flushing !== null;
  }

  /** Resolves when everything computed so far is in storage. */
  async flushed(): Promise<void> {
    this.hurry?.();
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
    this.hurry?.();
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
  protected recovered(): Promise<void> {
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
        this.kept.clear();
        this.queuedRun = null;
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

  /** Keys and posting entries waiting for the next flush (the writer's bound on them). */
  protected get queuedKeys(): number {
    return (this.queuedChain?.length ?? 0) + this.kept.length + (this.queuedRun?.entries ?? 0);
  }

  /** Where a computed group of `keys` keys goes: the queued chain, or kept for the flush (kept-ops.ts). */
  protected opsFor(keys: number): OpSink {
    const chain = (this.queuedChain ??= this.core.store.chain());
    try {
      this.kept.takeInto(chain);
    } catch (err) {
      // Part of an acknowledged group may be in the batch: it fails as a write to storage does.
      this.fail(err, []);
      throw this.failure;
    }
    return this.kept.sinkFor(keys, chain);
  }

  /**
   * A group is about to be computed. After a bulk group whose ops are kept, with no turn between,
   * their flush starts now rather than on the next turn, so their write runs while this group is
   * computed (KeptOps.cameBackToBack).
   */
  protected groupStarts(): void {
    if (this.kept.cameBackToBack()) this.hurry?.();
  }

  /**
   * A group's postings, appended to `chain` (the queued chain): tags are handed out here, in the
   * order postings reach the chain, so a value's postings replay in the order of their groups.
   */
  addPostings(group: PostingCollector, chain: OpSink): void {
    if (group.entries < RUN_MAX_GROUP_ENTRIES) {
      (this.queuedRun ??= new PostingRun()).add(group);
      return;
    }
    this.endRun(chain);
    group.forEach(this.nextTag(), (key, value) => chain.put(key, value));
  }

  /** Writes the queued run of postings into `chain` under the next tag. */
  private endRun(chain: OpSink): void {
    const run = this.queuedRun;
    if (run === null) return;
    this.queuedRun = null;
    run.forEach(this.nextTag(), (key, value) => chain.put(key, value));
  }

  /**
   * The next group tag. The counter lives in the counters the chain stores, which groups copy when
   * they start: the writer keeps it when it takes a group's counters (Writer.computeGroup).
   */
  private nextTag(): string {
    const group = this.core.state.indexGroup + 1;
    this.core.state = { ...this.core.state, indexGroup: group };
    return groupTag(group);
  }

  /** The newest unflushed value of a key: a string, null (deleted), or undefined (not pending). */
  pendingValue(key: string): string | null | undefined {
    const v = this.queued?.get(key);
    return v !== undefined ? v : this.inFlight?.get(key);
  }

  /** pendingValue as a function, made once: every write group's batch reads through it. */
  readonly pending = (key: string): string | null | undefined => this.pendingValue(key);

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
   * Back-pressure: resolves once the flusher has taken the queued chain to write it, so the next
   * group is computed while that write runs. Waiting for the whole flush instead would leave this
   * thread idle during every write, and the storage thread idle during every computation.
   */
  protected handedOver(): Promise<void> {
    if (this.flushing === null || this.queuedChain === null) return Promise.resolve();
    this.hurry?.();
    return new Promise((resolve) => this.takenWaiters.push(resolve));
  }

  private releaseTakenWaiters(): void {
    const waiters = this.takenWaiters;
    this.takenWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Starts the flush of the queued chain, unless one is running (it takes the chain after its own).
   * Where storage writes without I/O (a memory engine) and fast mode acknowledges writes before
   * they are stored, the flush waits for the next turn of the event loop, so that the writes of one
   * turn share it: flushing each single put alone, its batch, counters and engine call made again
   * every time, cost 68 us of CPU a put against 55-57 (10k single updates of a 100k-doc memory
   * database). So does a flush with a bulk group's ops kept (kept-ops.ts), so that they reach the
   * engine after the write is answered. Whoever waits for storage (a range read, ensureFullCommit,
   * back-pressure, close) starts it at once, and so does a turn whose writes pass DEFERRED_MAX_KEYS,
   * or a group that follows kept ops with no turn between (groupStarts).
   */
  protected startFlush(): void {
    if (this.flushing !== null) {
      if (this.hurry !== null && this.queuedKeys > DEFERRED_MAX_KEYS) this.hurry();
      return;
    }
    this.flushing = this.flush((this.defers || this.kept.held) && this.queuedKeys <= DEFERRED_MAX_KEYS);
  }

  /** Resolves on the next turn, or as soon as someone needs the flush (hurry). */
  private nextTurn(): Promise<void> {
    return new Promise((resolve) => {
      const go = () => {
        if (this.hurry === go) this.hurry = null;
        resolve();
      };
      this.hurry = go;
      onNextTurn(go);
    });
  }

  private async flush(deferred: boolean): Promise<void> {
    // Never ends before `flushing` holds it: a flush with nothing to do (a failure, an empty queue)
    // would clear `flushing` in its finally first, then be stored, settled, for good; flushed()
    // would wait on it for ever and no flush would start again.
    await (deferred ? this.nextTurn() : null);
    try {
      while (this.queuedChain !== null && !this.failure) {
        const chain = this.queuedChain;
        try {
          // The group's keys were checked as it was computed: this fails only as storage does.
          this.kept.takeInto(chain);
        } catch (err) {
          this.fail(err, []);
          return;
        }
        this.endRun(chain);
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
    this.kept.clear();
    this.queuedRun = null;
    this.queued = null;
    this.queuedWaiting = [];
    // The counters go back to what storage holds: until storage is back, info and changes must
    // not count writes that are not there (a sequence read now would be given again after).
    this.core.state = this.storedState;
    this.core.seqCounts.forget();
    this.core.idCounts.forget();
  }
}
