// A database: the public face over one key/value store. Reads go straight to storage (or a
// snapshot); every write goes through the single Writer so revision trees never race.

import { RefugeError, conflict, isRefugeError, toRefugeError } from '../errors/index.ts';
import type { BlobId, BlobRead, BlobStore, ByteRange } from '../blobs/core.ts';
import { copyOf, editOf, inlineSince, prepareBulkAttachments, storedAttachmentBlobIds, withAttachment, withoutAttachment } from './attachment-edits.ts';
import { attachmentStubs, checkAttachmentName, type AttInputs, type AttStub } from './attachments.ts';
import { compileChangesFilter } from './changes-filter.ts';
import { LOCAL_ADMIN, type DesignHooks } from './hooks.ts';
import type { KvStore, StorageEngine } from '../storage/index.ts';
import { allDocs } from './all-docs.ts';
import { checkChangesOptions, readChanges, type ChangesFilter } from './changes.ts';
import { compact, rebuildPathIndex } from './compaction.ts';
import { SeqCounts } from './seq-counts.ts';
import { executeFind, explainFind, parseFind, pathQuery, type FindRequest, type FindResult, type PathIndexState, type PathQuery, type PathQueryRow } from './find.ts';
import { decodeState, initialState, type DbCore } from './core.ts';
import { getLocal, localDocs, validateLocalDoc, writeLocal } from './local-docs.ts';
import { purge, purgedInfos, purgedSince, setPurgedInfosLimit, type PurgeResult } from './purge.ts';
import { META_KEY } from './keys.ts';
import { bulkGet, getDoc, getOpenRevs, revsDiff } from './reads.ts';
import type { Rev } from './rev-tree.ts';
import { CommitSignal, liveChanges } from './subscription.ts';
import type {
  AllDocsOptions,
  AllDocsResult,
  AllDocsRow,
  BulkDocsOptions,
  BulkGetRequest,
  BulkGetResult,
  ChangeRow,
  ChangesOptions,
  ChangesResult,
  DatabaseInfo,
  Doc,
  Durability,
  GetOptions,
  JsonObject,
  OpenRevsResult,
  RevsDiffResult,
  SubscribeOptions,
  WriteFailure,
  WriteResult,
} from './types.ts';
import { validateDbName, validateRevsLimit } from './validate.ts';
import { Writer } from './writer.ts';

export interface OpenDatabaseOptions {
  engine: StorageEngine;
  /** Where the engine keeps this database (a directory for LevelDB). */
  location: string;
  /** 'durable' (default): every acknowledged write is on disk. 'fast': the OS flushes. */
  durability?: Durability;
  /** Index every JSON path of winning revisions (default true). */
  autoIndex?: boolean;
  /** Revisions kept per branch; applies when the database is created (default 1000). */
  revsLimit?: number;
  /** Emits the path index entries of a body; provided by the query layer. */
  indexEntries: (body: JsonObject, emit: (path: string, encodedValue: string) => void) => void;
  /** Where attachment bytes live (content-addressed, shared across databases); none: attachments refused. */
  blobs?: BlobStore;
  /** Close `blobs` with the database (when it was opened for this database alone). */
  ownsBlobs?: boolean;
  /** Compiles a Mango selector into a predicate, for changes filtered by selector. */
  compileSelector: (selector: unknown) => (doc: Doc) => boolean;
}

const isLocalDoc = (d: unknown): d is Doc & { _id: string } =>
  d !== null && typeof d === 'object' && typeof (d as Doc)._id === 'string' && (d as Doc)._id!.startsWith('_local/');

export class Database {
  private readonly writer: Writer;
  private readonly commits = new CommitSignal();
  private closed = false;
  private hooks: DesignHooks = {};
  /** The path index rebuild in progress, if any (setAutoIndex). */
  private indexBuild: Promise<void> | undefined;

  private constructor(
    readonly core: DbCore,
    private readonly options: OpenDatabaseOptions,
  ) {
    this.writer = new Writer(core, () => {
      this.commits.notify();
      for (const watch of this.commitWatchers) watch();
    });
  }

  private readonly commitWatchers = new Set<() => void>();

  /**
   * Calls `watch` after every commit from now on (synchronously: it must be cheap), until the
   * returned function is called. The node uses it to feed `_db_updates`.
   */
  watchCommits(watch: () => void): () => void {
    this.commitWatchers.add(watch);
    return () => this.commitWatchers.delete(watch);
  }

  static async open(name: string, options: OpenDatabaseOptions): Promise<Database> {
    validateDbName(name);
    const store: KvStore = await options.engine.open({ location: options.location });
    try {
      const defaults = initialState(options.revsLimit === undefined ? 1000 : validateRevsLimit(options.revsLimit), options.autoIndex !== false);
      const stored = await store.get(META_KEY);
      const state = decodeState(stored, defaults);
      const wantIndex = options.autoIndex ?? state.autoIndex;
      const core: DbCore = {
        name,
        store,
        durability: options.durability ?? 'durable',
        state,
        seqCounts: new SeqCounts(),
        indexEntries: options.indexEntries,
      };
      const db = new Database(core, options);
      if (stored === undefined) await db.writer.submit(async () => undefined);
      if (wantIndex !== state.autoIndex) await db.setAutoIndex(wantIndex);
      // A rebuild cut short (crash, kill) left part of the index: it starts again from nothing.
      else if (state.autoIndex && !state.pathIndexReady) await db.setAutoIndex(true);
      return db;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** Installs the design-document layer's hooks (validation on writes, named filters). */
  setDesignHooks(hooks: DesignHooks): void {
    this.hooks = hooks;
  }

  /** Refuses, per document, what the write hooks refuse; answers the failures by position. */
  private async checkWrites(docs: readonly unknown[], options: BulkDocsOptions): Promise<Array<WriteFailure | undefined> | undefined> {
    if (!this.hooks.checkWrites) return undefined;
    const candidates = docs.filter((d): d is Doc => d !== null && typeof d === 'object' && !Array.isArray(d));
    if (candidates.length === 0) return undefined;
    const verdicts = await this.hooks.checkWrites(candidates, { userCtx: options.userCtx ?? LOCAL_ADMIN, newEdits: options.newEdits !== false });
    let k = 0;
    return docs.map((d) => {
      if (d === null || typeof d !== 'object' || Array.isArray(d)) return undefined;
      const err = verdicts[k++];
      return err ? { id: typeof (d as Doc)._id === 'string' ? (d as Doc)._id! : '', error: err.code, reason: err.reason } : undefined;
    });
  }

  get name(): string {
    return this.core.name;
  }

  private check(): void {
    if (this.closed) throw new RefugeError('closed', `database ${this.core.name} is closed`);
  }

  /** Reads wait for computed-but-unflushed writes, so callers always read their own writes. */
  private async settle(): Promise<void> {
    this.check();
    if (this.writer.hasPending) await this.writer.flushed();
  }

  async info(): Promise<DatabaseInfo> {
    await this.settle();
    const s = this.core.state;
    const info: DatabaseInfo = {
      dbName: this.core.name,
      docCount: s.docCount,
      docDelCount: s.delCount,
      updateSeq: s.seq,
      engine: this.core.store.engine,
      durability: this.core.durability,
      autoIndex: s.autoIndex,
      revsLimit: s.revsLimit,
      purgeSeq: s.purgeSeq,
    };
    const store = this.core.store;
    // external: the live records' bytes (uncompressed); active: what storage estimates its tables
    // hold, or while everything still sits in LevelDB's memory table (no table yet), the live bytes
    // as far as the files (its log) hold them.
    const external = Math.max(0, s.liveBytes ?? 0);
    const approximate = store.approximateSize ? await store.approximateSize({ gte: '', lt: '\u007f' }) : 0;
    const file = store.diskSize ? await store.diskSize() : Math.max(approximate, external);
    const active = approximate > 0 ? approximate : Math.min(external, file);
    info.sizes = { file, active, external };
    return info;
  }

  // ---- writes ----

  async bulkDocs(docs: readonly unknown[], options: BulkDocsOptions = {}): Promise<Array<WriteResult | WriteFailure>> {
    this.check();
    if (!Array.isArray(docs)) throw new RefugeError('bad_request', 'docs must be an array');
    // `_local/` documents may come in a bulk write too, as CouchDB takes them: each is a putLocal.
    if (docs.some(isLocalDoc)) return this.bulkWithLocal(docs, options);
    const newEdits = options.newEdits !== false;
    const refused = await this.checkWrites(docs, options);
    // Attachment bytes go to the blob store before the write is queued (blob I/O never runs
    // inside the writer); a document whose attachments are invalid fails alone.
    return this.writePrepared(docs, newEdits, await prepareBulkAttachments(docs, refused, this.options.blobs));
  }

  private async bulkWithLocal(docs: readonly unknown[], options: BulkDocsOptions): Promise<Array<WriteResult | WriteFailure>> {
    const others = docs.filter((d) => !isLocalDoc(d));
    const written = others.length > 0 ? await this.bulkDocs(others, options) : [];
    let k = 0;
    const out: Array<WriteResult | WriteFailure> = [];
    for (const d of docs) {
      if (!isLocalDoc(d)) {
        out.push(written[k++]!);
        continue;
      }
      try {
        out.push(await this.putLocal(d));
      } catch (err) {
        const e = toRefugeError(err);
        if (e.code === 'internal' || e.code === 'closed') throw e;
        out.push({ id: d._id, error: e.code, reason: e.reason });
      }
    }
    return out;
  }

  /** Writes documents whose attachments are prepared (stored as blobs) and whose checks passed. */
  private async writePrepared(docs: readonly unknown[], newEdits: boolean, prepared: Array<AttInputs | WriteFailure | undefined>): Promise<Array<WriteResult | WriteFailure>> {
    const touchesDesign = docs.some((d) => d !== null && typeof d === 'object' && typeof (d as Doc)._id === 'string' && (d as Doc)._id!.startsWith('_design/'));
    if (!touchesDesign) return this.submitDocs(docs, newEdits, prepared);
    try {
      return await this.submitDocs(docs, newEdits, prepared);
    } finally {
      this.hooks.designWritten?.();
    }
  }

  /**
   * CouchDB's COPY: the body and attachments of `source` (its winner, or `rev`) written as `dest`
   * (a new document, or a new revision of `destRev`). Attachments are not copied byte by byte: the
   * copy refers to the same blobs.
   */
  async copy(source: string, dest: string, options: BulkDocsOptions & { rev?: Rev; destRev?: Rev } = {}): Promise<WriteResult> {
    this.check();
    if (typeof dest !== 'string' || dest === '') throw new RefugeError('bad_request', 'Destination header is mandatory for COPY.');
    if (source.startsWith('_local/') || dest.startsWith('_local/')) throw new RefugeError('bad_request', 'local documents cannot be copied');
    const { doc, atts } = copyOf(await this.get(source, options.rev === undefined ? {} : { rev: options.rev }), dest, options.destRev);
    const refused = (await this.checkWrites([doc], options))?.[0];
    if (refused) throw new RefugeError(refused.error as never, refused.reason);
    const [result] = await this.writePrepared([doc], true, [atts]);
    if ('error' in result!) throw new RefugeError(result.error as never, result.reason);
    return result!;
  }

  private submitDocs(docs: readonly unknown[], newEdits: boolean, prepared: Array<AttInputs | WriteFailure | undefined>): Promise<Array<WriteResult | WriteFailure>> {
    return this.writer.submit(async (batch) => {
      const ids: string[] = [];
      for (const d of docs) if (d && typeof (d as Doc)._id === 'string') ids.push((d as Doc)._id!);
      await batch.preload(ids);
      const out: Array<WriteResult | WriteFailure> = [];
      for (let i = 0; i < docs.length; i++) {
        const p = prepared[i];
        if (p && 'error' in p) out.push(p as WriteFailure);
        else out.push(await batch.write(docs[i], newEdits, p as AttInputs | undefined));
      }
      return out;
    });
  }

  /** Writes one document; failures throw (conflict, bad_request, doc_validation, ...). */
  async put(doc: Doc, options: BulkDocsOptions = {}): Promise<WriteResult> {
    if (typeof doc?._id === 'string' && doc._id.startsWith('_local/')) return this.putLocal(doc);
    const [result] = await this.bulkDocs([doc], options);
    if ('error' in result!) throw new RefugeError(result.error as never, result.reason);
    return result!;
  }

  /** Deletes the given revision (a tombstone that replicates). */
  async remove(id: string, rev: Rev, options: BulkDocsOptions = {}): Promise<WriteResult> {
    if (typeof id === 'string' && id.startsWith('_local/')) return this.removeLocal(id, rev);
    if (typeof rev !== 'string') throw conflict();
    return this.put({ _id: id, _rev: rev, _deleted: true }, options);
  }

  // ---- reads ----

  async get(id: string, options: GetOptions = {}): Promise<Doc> {
    await this.settle();
    if (typeof id !== 'string') throw new RefugeError('bad_request', 'Document id must be a string');
    if (id.startsWith('_local/')) return getLocal(this.core.store, id);
    // atts_since alone also brings the newer attachments' data, as CouchDB does; judging it needs
    // the revision history, which is read and then dropped when the caller did not ask for it.
    const since = options.attsSince !== undefined && options.attsSince.length > 0;
    const doc = await getDoc(this.core.store, id, since ? { ...options, revs: true } : options, this.core.state.revsLimit);
    if (options.attachments || since) await inlineSince(doc, this.options.blobs, options.attsSince);
    if (since && !options.revs) delete doc._revisions;
    return doc;
  }

  /**
   * Every blob id an attachment of any stored revision refers to (winners and kept older or
   * conflicting revisions): the roots garbage collection must never delete.
   */
  async *attachmentBlobIds(): AsyncGenerator<string> {
    await this.settle();
    yield* storedAttachmentBlobIds(this.core.store);
  }

  /**
   * One attachment's metadata and a verified stream of its bytes: all of them, or the range that
   * `range` picks once the attachment (its length, its digest) is known.
   */
  async getAttachment(
    docId: string,
    name: string,
    options: { rev?: Rev; range?: (stub: AttStub) => ByteRange | undefined } = {},
  ): Promise<{ stub: AttStub; read: BlobRead }> {
    const doc = await this.get(docId, { rev: options.rev });
    const stub = (doc._attachments as Record<string, AttStub> | undefined)?.[name];
    if (!stub) throw new RefugeError('not_found', 'Document is missing attachment');
    if (!this.options.blobs) throw new RefugeError('not_implemented', 'this database has no blob store for attachments');
    return { stub, read: await this.options.blobs.get(stub.digest as BlobId, options.range?.(stub) ?? {}) };
  }

  /** Adds or replaces one attachment (bytes stored as a blob); a new document when it has none. */
  async putAttachment(docId: string, name: string, rev: Rev | undefined, bytes: Uint8Array | AsyncIterable<Uint8Array>, contentType = 'application/octet-stream'): Promise<WriteResult> {
    this.check();
    if (!this.options.blobs) throw new RefugeError('not_implemented', 'this database has no blob store for attachments');
    checkAttachmentName(name);
    const base: Doc = rev === undefined ? { _id: docId } : await this.revToEdit(docId, rev);
    const put = await this.options.blobs.put(bytes);
    return this.writeWith(base, rev, withAttachment(base, name, put, contentType));
  }

  async removeAttachment(docId: string, name: string, rev: Rev): Promise<WriteResult> {
    const base = await this.revToEdit(docId, rev);
    return this.writeWith(base, rev, withoutAttachment(base, name));
  }

  /**
   * The revision an attachment edit extends. One this document does not have is CouchDB 2+'s
   * 409 `{"error":"not_found","reason":"missing_rev"}` (a conflict in status, a missing rev in name).
   */
  private async revToEdit(docId: string, rev: Rev): Promise<Doc> {
    try {
      return await this.get(docId, { rev });
    } catch (err) {
      if (isRefugeError(err, 'not_found')) throw new RefugeError('not_found', 'missing_rev', { status: 409, cause: err });
      throw err;
    }
  }

  private async writeWith(base: Doc, rev: Rev | undefined, atts: AttInputs): Promise<WriteResult> {
    const doc = editOf(base, rev);
    const refused = await this.checkWrites([{ ...doc, _attachments: attachmentStubs(atts, base._attachments) }], {});
    if (refused?.[0]) throw new RefugeError(refused[0].error as never, refused[0].reason);
    const result = await this.writer
      .submit(async (batch) => batch.write(doc, true, Object.keys(atts).length ? atts : undefined))
      .finally(() => {
        if (doc._id!.startsWith('_design/')) this.hooks.designWritten?.();
      });
    if ('error' in result) throw new RefugeError(result.error as never, result.reason);
    return result;
  }

  async getOpenRevs(id: string, revs: 'all' | readonly Rev[], options: GetOptions = {}): Promise<OpenRevsResult> {
    await this.settle();
    const out = await getOpenRevs(this.core.store, id, revs, options, this.core.state.revsLimit);
    if (options.attachments || (options.attsSince?.length ?? 0) > 0) {
      for (const r of out) if ('ok' in r) await inlineSince(r.ok, this.options.blobs, options.attsSince);
    }
    return out;
  }

  async bulkGet(requests: readonly BulkGetRequest[], options: { revs?: boolean; latest?: boolean; attachments?: boolean } = {}): Promise<BulkGetResult> {
    await this.settle();
    if (!Array.isArray(requests)) throw new RefugeError('bad_request', '`docs` must be an array');
    const result = await this.withSnapshot((snap) => bulkGet(snap, requests, options, this.core.state.revsLimit));
    if (options.attachments) {
      for (const r of result.results) for (const d of r.docs) if ('ok' in d) await inlineSince(d.ok, this.options.blobs);
    }
    return result;
  }

  async revsDiff(request: Record<string, unknown>): Promise<RevsDiffResult> {
    await this.settle();
    return revsDiff(this.core.store, request);
  }

  async allDocs(options: AllDocsOptions = {}): Promise<AllDocsResult> {
    await this.settle();
    const state = this.core.state;
    const listed = await this.withSnapshot((snap) => allDocs(snap, options, { docCount: state.docCount, revsLimit: state.revsLimit }));
    if (options.attachments && options.includeDocs) await this.inlineAll(listed.rows.map((r) => r.doc));
    return { ...listed, updateSeq: state.seq };
  }

  /** Local documents (replication checkpoints and the like), listed as `_all_docs` lists documents. */
  async localDocs(options: AllDocsOptions = {}): Promise<AllDocsRow[]> {
    await this.settle();
    return this.withSnapshot((snap) => localDocs(snap, options));
  }

  async changes(options: ChangesOptions = {}): Promise<ChangesResult> {
    await this.settle();
    checkChangesOptions(options);
    const filter = await this.compileFilter(options);
    await this.settle();
    const upTo = this.core.state.seq;
    const result = await this.withSnapshot((snap) => readChanges(snap, options, filter, upTo, this.core.state.revsLimit));
    if (options.attachments && options.includeDocs) await this.inlineAll(result.results.map((r) => r.doc));
    return result;
  }

  /**
   * How many changes lie after `seq` (CouchDB's `pending`): one per document changed since. The
   * first call counts the whole feed once (a job that holds writes back meanwhile); later ones
   * scan at most one block of sequences.
   */
  async pendingAfter(seq: number): Promise<number> {
    this.check();
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RefugeError('bad_request', 'seq must be a non-negative integer');
    const counts = this.core.seqCounts;
    if (!counts.ready) await this.writer.submit(() => (counts.ready ? Promise.resolve() : counts.count(this.core.store)), true);
    await this.settle();
    // No snapshot: the count is of an instant anyway, and the scan is of one block at most.
    return counts.after(this.core.store, seq);
  }

  /** Attachment data in place of stubs, for listings asked with `attachments` (as get does). */
  private async inlineAll(docs: ReadonlyArray<Doc | null | undefined>): Promise<void> {
    for (const doc of docs) if (doc?._attachments) await inlineSince(doc, this.options.blobs);
  }

  /**
   * Live changes in batches, from `since` on, until `signal` aborts or the database closes.
   * Nothing is buffered beyond the batch being delivered.
   */
  subscribe(options: SubscribeOptions = {}): AsyncGenerator<ChangeRow[], void, undefined> {
    this.check();
    checkChangesOptions(options);
    const batchSize = options.batchSize ?? 100;
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RefugeError('bad_request', 'batchSize must be a positive integer');
    const intervalMs = options.intervalMs ?? 0;
    // Compiled on the first read, so a bad filter name fails the first pull, not the call.
    let compiled: Promise<ChangesFilter> | undefined;
    const source = {
      signal: this.commits,
      currentSeq: () => this.core.state.seq,
      read: async (since: number, limit: number) => {
        const filter = await (compiled ??= this.compileFilter(options));
        // Closed while the filter compiled: an empty read lets the feed see the close and end.
        if (this.closed) return { results: [], lastSeq: since };
        await this.settle();
        const upTo = this.core.state.seq;
        const result = await this.withSnapshot((snap) =>
          readChanges(snap, { ...options, since, limit, descending: false }, filter, upTo, this.core.state.revsLimit),
        );
        if (options.attachments && options.includeDocs) await this.inlineAll(result.results.map((r) => r.doc));
        return result;
      },
    };
    return liveChanges(source, options.since ?? 0, batchSize, intervalMs, options.signal);
  }

  private compileFilter(options: ChangesOptions): Promise<ChangesFilter> {
    return compileChangesFilter(options, this.options.compileSelector, this.hooks);
  }

  // ---- queries ----

  /** Mango `_find`: exact results, using the path index where a clause allows. */
  async find(request: FindRequest): Promise<FindResult> {
    await this.settle();
    const parsed = parseFind(request, this.pathIndexState());
    return this.withSnapshot((snap) =>
      executeFind(snap, parsed, {
        conflicts: request.conflicts,
        revsLimit: this.core.state.revsLimit,
        executionStats: request.executionStats,
      }),
    );
  }

  /** Mango `_explain`: which index scan `find` would use, and why. */
  async explain(request: FindRequest): Promise<ReturnType<typeof explainFind>> {
    this.check();
    return explainFind(this.core.name, parseFind(request, this.pathIndexState()), request);
  }

  private pathIndexState(): PathIndexState {
    const s = this.core.state;
    return !s.autoIndex ? 'off' : s.pathIndexReady ? 'ready' : 'building';
  }

  /**
   * Queries the path index directly: rows stream in value order (one per matching entry), so a
   * large result is never held in memory. Needs `autoIndex` on.
   */
  query(q: PathQuery): AsyncGenerator<PathQueryRow> {
    this.check();
    if (!this.core.state.autoIndex) throw new RefugeError('bad_request', 'the path index is off for this database (autoIndex: false)');
    const rows = pathQuery(this.core.store, q, this.core.state.revsLimit);
    const ready = async () => {
      await this.settle();
      // A rebuild in progress here is waited for: rows from half an index would be wrong.
      await this.indexBuild?.catch(() => undefined);
      if (this.pathIndexState() !== 'ready') throw new RefugeError('unavailable', 'the path index is being rebuilt; try again when it is done');
    };
    return (async function* () {
      await ready();
      yield* rows;
    })();
  }

  // ---- local documents ----

  async putLocal(doc: Doc): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc(doc);
    // `_deleted: true` deletes it, as in CouchDB (rev 0-0).
    return this.writer.submit((batch) => writeLocal(batch, d, d._deleted === true ? 'put' : false));
  }

  async removeLocal(id: string, rev?: string): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc({ _id: id, _rev: rev, _deleted: true });
    return this.writer.submit((batch) => writeLocal(batch, d, 'delete'));
  }

  // ---- maintenance ----

  async compact(): Promise<{ droppedBodies: number }> {
    this.check();
    return compact(this.core, this.writer);
  }

  /**
   * CouchDB's purge: each named leaf revision goes with the branch only it needed; a document left
   * without leaves is gone entirely. Admin-only on the wire; not replicated.
   */
  async purge(request: Record<string, Rev[]>): Promise<PurgeResult> {
    this.check();
    const touchesDesign = request !== null && typeof request === 'object' && Object.keys(request).some((id) => id.startsWith('_design/'));
    try {
      return await purge(this.core, this.writer, request);
    } finally {
      if (touchesDesign) this.hooks.designWritten?.();
    }
  }

  /** The purges remembered (the newest `purged_infos_limit`), oldest first. */
  async purgedInfos(): Promise<Array<{ id: string; revs: Rev[] }>> {
    await this.settle();
    return this.withSnapshot((snap) => purgedInfos(snap));
  }

  /** Documents purged after update seq `since` (for indexers); `complete` false: rebuild instead. */
  async purgedSince(since: number): Promise<{ ids: string[]; complete: boolean }> {
    await this.settle();
    return this.withSnapshot((snap) => purgedSince(snap, () => this.core.state, since));
  }

  async setPurgedInfosLimit(limit: number): Promise<void> {
    this.check();
    await setPurgedInfosLimit(this.core, this.writer, limit);
  }

  getPurgedInfosLimit(): number {
    return this.core.state.purgedInfosLimit;
  }

  async setRevsLimit(limit: number): Promise<void> {
    this.check();
    const n = validateRevsLimit(limit);
    await this.writer.submit(async (batch) => {
      batch.state.revsLimit = n;
    }, true);
  }

  getRevsLimit(): number {
    return this.core.state.revsLimit;
  }

  /** Turns the automatic path index on (rebuilding it) or off (dropping it). */
  async setAutoIndex(on: boolean): Promise<void> {
    this.check();
    // Not ready is stored with the switch, in one write: until the rebuild below has visited every
    // document, queries scan documents instead, and a restart rebuilds again.
    await this.writer.submit(async (batch) => {
      batch.state.autoIndex = on;
      batch.state.pathIndexReady = false;
    }, true);
    await this.core.store.clear({ gte: 'i!', lt: 'i"' });
    if (!on) return;
    const build = rebuildPathIndex(this.core, this.writer).then(() =>
      this.writer.submit(async (batch) => {
        // Turned off (or on again) meanwhile: that call owns the flag now.
        if (this.indexBuild === build) batch.state.pathIndexReady = batch.state.autoIndex;
      }, true),
    );
    this.indexBuild = build;
    await build;
  }

  /** Runs `fn` against a consistent snapshot, released afterwards. */
  async withSnapshot<T>(fn: (snap: import('../storage/index.ts').KvReader) => Promise<T>): Promise<T> {
    const snap = this.core.store.snapshot();
    try {
      return await fn(snap);
    } finally {
      await snap.close();
    }
  }

  /** Queues a raw job on the writer (used by indexers and rebuilds). */
  runExclusive<T>(fn: (batch: import('./write-batch.ts').WriteBatch) => Promise<T>): Promise<T> {
    this.check();
    return this.writer.submit(fn, true);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writer.close();
    // Indexes close after the last write was applied and before the store they read goes away.
    await this.hooks.close?.();
    this.commits.close();
    await this.core.store.close();
    if (this.options.ownsBlobs) await this.options.blobs?.close();
  }

  /** Closes and deletes everything this database stored. */
  async destroy(): Promise<void> {
    await this.close();
    await this.options.engine.destroy(this.options.location);
  }
}
