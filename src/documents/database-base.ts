// The state and lifecycle under every database: its store, its single Writer, the design hooks,
// commit watchers, snapshots and closing (maintenance and settings: database-maintenance.ts).

import { RefugeError } from '../errors/index.ts';
import type { DbCore, DbState } from './core.ts';
import { runWriteChecks, type DesignHooks, type WritePreparation } from './hooks.ts';
import { inlineSince, storedAttachmentBlobIds } from './attachment-edits.ts';
import type { BlobStore } from '../blobs/core.ts';
import type { IndexValue } from '../query/index.ts';
import type { KvReader, KvSnapshot, StorageEngine } from '../storage/index.ts';
import { CommitSignal } from './subscription.ts';
import type { BulkDocsOptions, Doc, Durability, JsonObject, WriteFailure } from './types.ts';
import type { WriteBatch } from './write-batch.ts';
import { Writer } from './writer.ts';
import { overlayReader } from './overlay-reader.ts';
import { listingSnapshot, stateIn } from './snapshot-state.ts';
import { PostingMerger } from './posting-merge.ts';

export interface OpenDatabaseOptions {
  engine: StorageEngine;
  /** Where the engine keeps this database (a directory for LevelDB). */
  location: string;
  /** Made before: a persistent engine fails rather than make it anew, empty (OpenStoreOptions.mustExist). */
  mustExist?: boolean;
  /** 'durable' (default): every acknowledged write is on disk. 'fast': the OS flushes. */
  durability?: Durability;
  /** Index every JSON path of winning revisions (default true). */
  autoIndex?: boolean;
  /** Revisions kept per branch; applies when the database is created (default 1000). */
  revsLimit?: number;
  /** Emits the path index entries of a body; provided by the query layer. */
  indexEntries: (body: JsonObject, emit: (path: string, value: IndexValue) => void) => void;
  /** Where attachment bytes live (content-addressed, shared across databases); none: attachments refused. */
  blobs?: BlobStore;
  /** Close `blobs` with the database (when it was opened for this database alone). */
  ownsBlobs?: boolean;
  /** Compiles a Mango selector into a predicate, for changes filtered by selector. */
  compileSelector: (selector: unknown) => (doc: Doc) => boolean;
}

/** What watches dropped revisions (the node's blob gc): blob ids their attachments named. */
export interface DropWatcher {
  /** Stored revisions naming some of these were dropped for good. Synchronous: it must be cheap. */
  dropped(named: ReadonlySet<string>): void;
  /**
   * A compaction or purge may drop revisions naming some of these: awaited before it drops any.
   * Answers what to call once it ended (whether it dropped any), in place of `dropped`.
   */
  mayDrop?(named: ReadonlySet<string>): Promise<(dropped: boolean) => void>;
}

export abstract class DatabaseBase {
  protected readonly writer: Writer;
  protected readonly commits = new CommitSignal();
  protected closed = false;
  /** Set as destroy() begins: from then on refusals say the database does not exist. */
  private destroyed = false;
  /** Set once close() begins: no new write starts, those started are waited for. */
  private closing: Promise<void> | undefined;
  /** Writes started (past their first check) and not yet answered. */
  private writesStarted = 0;
  private writesIdle: (() => void) | undefined;
  protected hooks: DesignHooks = {};
  /** The path index rebuild in progress, if any (setAutoIndex). */
  protected indexBuild: Promise<void> | undefined;
  /** Merges the path index values queries find fragmented. */
  protected readonly postingMerger: PostingMerger;

  protected constructor(
    readonly core: DbCore,
    protected readonly options: OpenDatabaseOptions,
  ) {
    this.writer = new Writer(
      core,
      () => this.closedError(),
      () => {
        this.commits.notify();
        for (const watch of this.commitWatchers) watch();
      },
      core.store.reopen ? () => this.recoverStorage() : undefined,
    );
    this.postingMerger = new PostingMerger(core, this.writer);
    core.onRevisionsDropped = (named) => this.revisionsDropped(named);
    this.overlay = overlayReader(core.store, (key) => this.writer.pendingValue(key), () => this.writer.flushed());
  }

  /** Storage as point reads see it, unflushed writes included (see pointReader). */
  private readonly overlay: KvReader;

  private readonly commitWatchers = new Set<() => void>();

  /**
   * Calls `watch` after every commit from now on (synchronously: it must be cheap), until the
   * returned function is called. The node uses it to feed `_db_updates`.
   */
  watchCommits(watch: () => void): () => void {
    this.commitWatchers.add(watch);
    return () => this.commitWatchers.delete(watch);
  }

  private readonly dropWatchers = new Set<DropWatcher>();

  /**
   * Tells `watch` of stored revisions dropped for good (a compaction that dropped bodies, a stemming
   * write, a purge), until the returned function is called. It is given blob ids attachments named
   * before: among them, those only the dropped revisions named. The node's blob gc deletes among
   * those only.
   */
  watchDrops(watch: DropWatcher): () => void {
    this.dropWatchers.add(watch);
    return () => this.dropWatchers.delete(watch);
  }

  /** Whether drops are watched: then compaction and purge note the attachments named first. */
  protected get dropsWatched(): boolean {
    return this.dropWatchers.size > 0;
  }

  protected revisionsDropped(named: ReadonlySet<string>): void {
    if (named.size === 0) return;
    for (const watch of this.dropWatchers) watch.dropped(named);
  }

  /**
   * Runs `drop` (a compaction, a purge), having told the watchers first what it may drop and waited
   * for them, then what it did: a crash in the middle finds the blobs noted already. A drop that
   * failed may have dropped some (a compaction writes in passes): told as dropped.
   */
  protected async droppingRevisions<T>(named: ReadonlySet<string> | undefined, drop: () => Promise<T>, dropped: (result: T) => boolean): Promise<T> {
    if (named === undefined || named.size === 0) return drop();
    const ends = await Promise.all(
      [...this.dropWatchers].map(async (w): Promise<(dropped: boolean) => void> => (w.mayDrop ? w.mayDrop(named) : (d) => d && w.dropped(named))),
    );
    let result: T;
    try {
      result = await drop();
    } catch (err) {
      for (const end of ends) end(true);
      throw err;
    }
    const any = dropped(result);
    for (const end of ends) end(any);
    return result;
  }

  /**
   * The blob ids the attachments of stored revisions name now (a scan, for drop watchers): every
   * revision's, or with `winners: false` those of the revisions that are not their document's winner.
   */
  protected async namedAttachments(options: { winners?: boolean } = {}): Promise<Set<string>> {
    await this.settle();
    const ids = new Set<string>();
    for await (const id of storedAttachmentBlobIds(this.core.store, options)) ids.add(id);
    return ids;
  }

  /** Installs the design-document layer's hooks (validation on writes, named filters). */
  setDesignHooks(hooks: DesignHooks): void {
    this.hooks = hooks;
  }

  /** Rewrites documents before any check or write (a system database's own rules); none by default. */
  protected prepareWrites: WritePreparation | undefined;

  /**
   * Installs the database's write preparation: `_users` hashes passwords with it, `_replicator`
   * names owners. It sees every bulk write, put and copy, replicated ones too, before validation.
   */
  setWritePreparation(prepare: WritePreparation | undefined): void {
    this.prepareWrites = prepare;
  }

  /**
   * Refuses, per document, what the write hooks refuse; answers the failures by position. When the
   * hooks know at once that nothing needs checking, the answer is undefined itself, not a promise:
   * a write then reaches the writer without waiting a turn (10k single updates ran at 19.4k/s with
   * those turns and the allocations of checks that found nothing to run, 20.4k/s without).
   */
  protected checkWrites(docs: readonly unknown[], options: BulkDocsOptions): Promise<Array<WriteFailure | undefined> | undefined> | undefined {
    const check = this.hooks.checkWrites;
    if (!check || this.hooks.passesUnchecked?.(docs)) return undefined;
    return runWriteChecks(check, docs, options);
  }

  get name(): string {
    return this.core.name;
  }

  /** CouchDB's `instance_start_time`: another one for a database deleted and created again. */
  get instanceStartTime(): string {
    return this.core.state.instanceStartTime ?? '0';
  }

  /** Opens storage again after a failed write and reloads what is kept of it (see Writer.recover). */
  protected abstract recoverStorage(): Promise<void>;

  protected check(): void {
    if (this.closed) throw this.closedError();
  }

  /**
   * Why this database takes no more work: closed, or deleted. A deleted one says so as CouchDB
   * does (404, "Database does not exist."): a replication or a request that held it across the
   * deletion reports the database gone, not an internal state.
   */
  private closedError(): RefugeError {
    return this.destroyed
      ? new RefugeError('not_found', 'Database does not exist.')
      : new RefugeError('closed', `database ${this.core.name} is closed`);
  }

  /** Reads wait for computed-but-unflushed writes, so callers always read their own writes. */
  protected async settle(): Promise<void> {
    this.check();
    if (this.writer.readsWait) await this.writer.readable();
    if (this.writer.hasPending) await this.writer.flushed();
  }

  /**
   * Resolves once every write acknowledged so far is in storage (CouchDB's `_ensure_full_commit`):
   * in fast mode writes are acknowledged before they are flushed.
   */
  async ensureFullCommit(): Promise<void> {
    this.check();
    await this.writer.committed();
  }

  /**
   * The reader for point reads (a document, its revisions, _revs_diff). In fast mode a write is
   * acknowledged once computed, so these reads take unflushed values from the writer's overlay
   * rather than wait for the flush: a replication target answers _revs_diff while it writes the
   * previous batch. In durable mode an unflushed write is not acknowledged yet and must not be
   * seen, so they wait, as every range read does.
   */
  protected async pointReader(): Promise<KvReader> {
    const now = this.pointReaderNow();
    if (now) return now;
    if (this.writer.readsWait) await this.writer.readable();
    await this.writer.flushed();
    return this.core.store;
  }

  /** The point reader when no flush needs waiting for (nothing pending, or fast mode's overlay). */
  protected pointReaderNow(): KvReader | undefined {
    this.check();
    if (this.writer.readsWait) return undefined;
    if (!this.writer.hasPending) return this.core.store;
    if (this.core.durability === 'fast') return this.overlay;
    return undefined;
  }


  /** Attachment data in place of stubs, for listings asked with `attachments` (as get does). */
  protected async inlineAll(docs: ReadonlyArray<Doc | null | undefined>): Promise<void> {
    for (const doc of docs) if (doc?._attachments) await inlineSince(doc, this.options.blobs);
  }

  /** The counters as `reader` holds them, not the live ones (snapshot-state.ts); call it as the reader is made. */
  protected stateIn(reader: KvReader): Promise<DbState> {
    return stateIn(this.core, this.writer, reader);
  }

  /** A snapshot for a listing, its counters, and `count(snap)` agreeing with it (snapshot-state.ts). */
  protected listingSnapshot<C>(count?: (snap: KvSnapshot) => Promise<C>): Promise<{ snap: KvSnapshot; state: DbState; counted: C | undefined }> {
    return listingSnapshot(this.core, this.writer, () => this.settle(), count);
  }

  /** Runs `fn` against a consistent snapshot, released afterwards. */
  async withSnapshot<T>(fn: (snap: KvReader) => Promise<T>): Promise<T> {
    const snap = this.core.store.snapshot();
    try {
      return await fn(snap);
    } finally {
      await snap.close();
    }
  }

  /** Queues a raw job on the writer (used by indexers and rebuilds). */
  runExclusive<T>(fn: (batch: WriteBatch) => Promise<T>): Promise<T> {
    this.check();
    return this.writer.submit(fn, true);
  }

  /** The sequence the last recount after lost writes started from (DbState.recoveredSeq); 0 if none. */
  get recoveredSeq(): number {
    return this.core.state.recoveredSeq ?? 0;
  }

  /**
   * A write to storage failed (a full disk, say) and storage is not back yet. Where the engine can
   * reopen (recoversItself), the next write brings it back in place; elsewhere the database refuses
   * writes until opened again, which a node does on the next request for it (unless the database
   * was handed out for good, RefugeNode.db()).
   */
  get failed(): boolean {
    return this.writer.failed;
  }

  /** Whether a failed write is recovered from in place (the engine can reopen its storage). */
  get recoversItself(): boolean {
    return this.core.store.reopen !== undefined;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Runs a write: one started before close() is finished (its checks, its attachments, its
   * commit) before the database closes, rather than refused half-way; none starts after.
   */
  protected started<T>(write: () => Promise<T>): Promise<T> {
    if (this.closing || this.closed) return Promise.reject(this.closedError());
    this.writesStarted++;
    // `finally` on the write's own promise: no async wrapper, so no extra turns on a single put.
    return write().finally(() => {
      if (--this.writesStarted === 0) this.writesIdle?.();
    });
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    while (this.writesStarted > 0) await new Promise<void>((resolve) => (this.writesIdle = resolve));
    this.closed = true;
    await this.postingMerger.idle();
    await this.writer.close();
    // Indexes close after the last write was applied and before the store they read goes away.
    await this.hooks.close?.();
    this.commits.close();
    await this.core.store.close();
    if (this.options.ownsBlobs) await this.options.blobs?.close();
  }

  /** Closes and deletes everything this database stored. */
  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.close();
    await this.options.engine.destroy(this.options.location);
  }
}
