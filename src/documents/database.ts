// A database: the public face over one key/value store. Reads go straight to storage (or a
// snapshot); every write goes through the single Writer so revision trees never race. The write
// side lives in database-writes.ts, feeds and queries in database-queries.ts, maintenance in
// database-maintenance.ts, state and lifecycle in database-base.ts.

import { RefugeError } from '../errors/index.ts';
import type { BlobId, BlobRead, ByteRange } from '../blobs/core.ts';
import { bulkAttsSince, inlineBulkGet, inlineSince, storedAttachmentBlobIds } from './attachment-edits.ts';
import type { AttachmentForm, AttStub } from './attachments.ts';
import type { KvStore } from '../storage/index.ts';
import { allDocsChunks, checkAllDocsOptions, offsetKey } from './all-docs.ts';
import { snapshotChunks, type AllDocsListing, type Listing } from './listings.ts';
import { IdCounts } from './id-counts.ts';
import { IdCeiling } from './id-ceiling.ts';
import { SeqCounts } from './seq-counts.ts';
import { databaseInfo } from './info.ts';
import { decodeState, encodeState, initialState, newInstanceStartTime, type DbCore } from './core.ts';
import type { OpenDatabaseOptions } from './database-base.ts';
import { DatabaseQueries } from './database-queries.ts';
import { getLocal, localDocsChunks } from './local-docs.ts';
import { META_KEY } from './keys.ts';
import { countAttachmentBytes, recountState, type Recount } from './recount.ts';
import { bulkGet, getDoc, getOpenRevs, getPlainJsonSync, getPlainSync, revsDiff, storedWinners } from './reads.ts';
import type { Rev } from './rev-tree.ts';
import type {
  AllDocsOptions,
  AllDocsResult,
  AllDocsRow,
  BulkGetRequest,
  BulkGetResult,
  DatabaseInfo,
  Doc,
  GetOptions,
  OpenRevsResult,
  RevsDiffEntry,
  RevsDiffResult,
} from './types.ts';
import { checkBooleanOptions, checkLongIds, checkOpenOptions, validateDbName, validateRevsLimit } from './validate.ts';

/** GetOptions that must be booleans when given: a string `"false"` would be taken as true. */
const GET_FLAGS = ['revs', 'revsInfo', 'conflicts', 'deletedConflicts', 'latest', 'localSeq', 'attachments', 'attachmentsFollow', 'attachmentBytes'] as const;

export type { OpenDatabaseOptions } from './database-base.ts';

/** `_bulk_get` items read (and their records fetched in one round trip) at a time, when no attachment is inlined. */
const BULK_GET_CHUNK = 100;

type BulkGetOptions = Pick<GetOptions, 'revs' | 'latest' | 'attachments' | 'attachmentsFollow' | 'attachmentBytes'>;

const attachmentForm = (options: Pick<GetOptions, 'attachmentsFollow' | 'attachmentBytes'>): AttachmentForm =>
  options.attachmentsFollow === true ? 'follows' : options.attachmentBytes === true ? 'bytes' : 'base64';

export class Database extends DatabaseQueries {
  /**
   * What storage dropped as damaged when this database opened (its counts were then recomputed),
   * in the engine's words; undefined when it dropped nothing. A node reports it (NodeOptions.onDamage).
   */
  recoveryLoss: string | undefined;
  /** Told when storage, opened again after a failed write, dropped damaged data (as recoveryLoss at an open). */
  onDamage: ((loss: string) => void) | undefined;

  static async open(name: string, options: OpenDatabaseOptions): Promise<Database> {
    validateDbName(name);
    checkOpenOptions(options);
    const store: KvStore = await options.engine.open({ location: options.location, ...(options.mustExist && { mustExist: true }) });
    try {
      const defaults = initialState(options.revsLimit === undefined ? 1000 : validateRevsLimit(options.revsLimit), options.autoIndex !== false);
      const stored = await store.get(META_KEY);
      let state = decodeState(stored, defaults);
      // Stored with the first counters below, and so kept for the life of the database.
      if (stored === undefined) {
        state.instanceStartTime = newInstanceStartTime();
        state.attBytes = 0;
        state.attachmentsSeen = false;
      }
      // Data the storage dropped as damaged leaves the stored counters wrong for good: recounted.
      let recount: Recount | undefined;
      if (stored !== undefined && (store.recoveryLoss !== undefined || state.recountPending === true)) {
        // Stored first: LevelDB tells of the damage at this open only, and the count may be cut short.
        if (!state.recountPending) await store.batch([{ type: 'put', key: META_KEY, value: encodeState({ ...state, recountPending: true }) }], { sync: true });
        recount = await recountState(store, state);
        state = recount.state;
      }
      // Counters stored before attachment bytes were kept: counted once, from the records.
      const attCounted = state.attBytes === undefined;
      if (attCounted) state = { ...state, attBytes: await countAttachmentBytes(store) };
      const wantIndex = options.autoIndex ?? state.autoIndex;
      const core: DbCore = {
        name,
        store,
        durability: options.durability ?? 'durable',
        state,
        seqCounts: new SeqCounts(),
        idCounts: new IdCounts(),
        idCeiling: new IdCeiling(),
        indexEntries: options.indexEntries,
      };
      await core.idCeiling.load(store);
      const db = new Database(core, options);
      db.recoveryLoss = store.recoveryLoss;
      // A write group stores the counters: the first ones, the recounted ones (and drops the
      // sequence entries no record points at), or those given their attachment bytes.
      if (stored === undefined || recount || attCounted) {
        await db.writer.submit(async (batch) => {
          for (const key of recount?.orphanSeqKeys ?? []) batch.setRaw(key, null);
        });
      }
      if (wantIndex !== state.autoIndex) await db.setAutoIndex(wantIndex);
      // A rebuild cut short (crash, kill) left part of the index: it starts again from nothing.
      else if (state.autoIndex && !state.pathIndexReady) await db.setAutoIndex(true);
      return db;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
  }

  protected async recoverStorage(): Promise<void> {
    const store = this.core.store;
    await store.reopen!();
    const stored = await store.get(META_KEY);
    let state = decodeState(stored, this.core.state);
    if (store.recoveryLoss !== undefined) {
      // As at an open: what storage dropped leaves the stored counters wrong, recounted and stored
      // (the pending mark first, so a recount cut short is done again at the next open).
      this.recoveryLoss = store.recoveryLoss;
      this.onDamage?.(store.recoveryLoss);
      if (!state.recountPending) await store.batch([{ type: 'put', key: META_KEY, value: encodeState({ ...state, recountPending: true }) }], { sync: true });
      const recount = await recountState(store, state);
      state = recount.state;
      await store.batch([...recount.orphanSeqKeys.map((key) => ({ type: 'del' as const, key })), { type: 'put', key: META_KEY, value: encodeState(state) }], { sync: true });
      // Rebuilt once the writer takes work again.
      if (state.autoIndex) setTimeout(() => void this.setAutoIndex(true).catch(() => undefined), 0);
    }
    this.core.state = state;
    this.core.seqCounts.forget();
    this.core.idCounts.forget();
  }

  async info(): Promise<DatabaseInfo> {
    await this.settle();
    return databaseInfo(this.core, await this.stateIn(this.core.store), this.compaction !== undefined);
  }

  /**
   * `info().updateSeq` without the rest of info: its sizes list the files on disk, which a view
   * catching up before each query, or a `since=now` feed, has no use for.
   */
  async updateSeq(): Promise<number> {
    await this.settle();
    return (await this.stateIn(this.core.store)).seq;
  }

  // ---- reads ----

  async get(id: string, options: GetOptions = {}): Promise<Doc> {
    const reader = this.pointReaderNow() ?? (await this.pointReader());
    if (typeof id !== 'string') throw new RefugeError('bad_request', 'Document id must be a string');
    checkBooleanOptions(options, GET_FLAGS);
    if (options.attsSince !== undefined && (!Array.isArray(options.attsSince) || !options.attsSince.every((r) => typeof r === 'string'))) {
      throw new RefugeError('bad_request', 'attsSince must be an array of revisions');
    }
    if (id.startsWith('_local/')) return getLocal(reader, id);
    const plain = options.attachments || options.attsSince !== undefined ? undefined : getPlainSync(reader, id, options);
    if (plain) return plain;
    // atts_since alone also brings the newer attachments' data, as CouchDB does (an empty list
    // names no ancestor: all of them); judging it needs the revision history, which is read and
    // then dropped when the caller did not ask for it.
    const since = options.attsSince !== undefined && options.attsSince.length > 0;
    const doc = await getDoc(reader, id, since ? { ...options, revs: true } : options);
    if (options.attachments || options.attsSince !== undefined) await inlineSince(doc, this.options.blobs, options.attsSince, attachmentForm(options));
    if (since && !options.revs) delete doc._revisions;
    return doc;
  }

  /** Each id's winner as validate_doc_update sees it (see storedWinners): one read, for a write's checks. */
  async storedWinners(ids: readonly string[]): Promise<Array<Doc | null>> {
    return storedWinners(this.pointReaderNow() ?? (await this.pointReader()), ids);
  }

  /**
   * The winning revision of `id` as JSON text, the document `get(id)` answers, without parsing
   * the stored body: what a server sends for a plain GET. Fails as `get` does.
   */
  async getJson(id: string): Promise<{ json: string; rev: Rev }> {
    const reader = this.pointReaderNow() ?? (await this.pointReader());
    if (typeof id !== 'string') throw new RefugeError('bad_request', 'Document id must be a string');
    if (!id.startsWith('_local/')) {
      const plain = getPlainJsonSync(reader, id);
      if (plain) return plain;
    }
    const doc = await this.get(id);
    return { json: JSON.stringify(doc), rev: doc._rev! };
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


  async getOpenRevs(id: string, revs: 'all' | readonly Rev[], options: GetOptions = {}): Promise<OpenRevsResult> {
    if (typeof id !== 'string') throw new RefugeError('bad_request', 'Document id must be a string');
    checkBooleanOptions(options, GET_FLAGS);
    const out = await getOpenRevs(await this.pointReader(), id, revs, options);
    if (options.attachments || options.attsSince !== undefined) {
      for (const r of out) if ('ok' in r) await inlineSince(r.ok, this.options.blobs, options.attsSince, attachmentForm(options));
    }
    return out;
  }

  /** `attachmentsFollow` and `attachmentBytes` as for get: the bytes are not read into the answer. */
  async bulkGet(requests: readonly BulkGetRequest[], options: BulkGetOptions = {}): Promise<BulkGetResult> {
    const listing = await this.bulkGetListing(requests, options);
    const results: BulkGetResult['results'] = [];
    try {
      for await (const chunk of listing.chunks) for (const item of chunk) results.push(item);
    } finally {
      await listing.close();
    }
    return { results };
  }

  /**
   * bulkGet read from one snapshot a few items at a time, for answers written out as they are read
   * (the HTTP `_bulk_get`): with attachments inlined, one item's documents at a time, so a batch of
   * documents with large attachments is never held whole as base64.
   */
  async bulkGetListing(requests: readonly BulkGetRequest[], options: BulkGetOptions = {}): Promise<Pick<Listing<BulkGetResult['results'][number]>, 'chunks' | 'close'>> {
    await this.settle();
    if (!Array.isArray(requests)) throw new RefugeError('bad_request', '`docs` must be an array');
    // Refused before any item is read: an answer under way can only be cut.
    checkLongIds(requests.map((r) => r?.id).filter((id): id is string => typeof id === 'string'));
    const since = bulkAttsSince(requests);
    const histories = !options.revs && since.some((s) => s !== undefined);
    const inlines = options.attachments === true || since.some((s) => s !== undefined);
    // Base64 is the bytes themselves: then one item at a time.
    const perChunk = inlines && attachmentForm(options) === 'base64' ? 1 : BULK_GET_CHUNK;
    const reading = histories ? { ...options, revs: true } : options;
    const blobs = this.options.blobs;
    const snap = this.core.store.snapshot();
    const read = async function* () {
      for (let i = 0; i < requests.length; i += perChunk) {
        const part = await bulkGet(snap, requests.slice(i, i + perChunk), reading);
        await inlineBulkGet(part, since.slice(i, i + perChunk), options.attachments === true, histories, blobs, attachmentForm(options));
        yield part.results;
      }
    };
    return snapshotChunks(snap, read());
  }

  /** CouchDB's `_revs_diff`: a Map asked (as the replicator asks) is answered with a Map. */
  revsDiff(request: ReadonlyMap<string, readonly string[]>): Promise<Map<string, RevsDiffEntry>>;
  revsDiff(request: Record<string, unknown>): Promise<RevsDiffResult>;
  async revsDiff(request: Record<string, unknown> | ReadonlyMap<string, readonly string[]>): Promise<RevsDiffResult | Map<string, RevsDiffEntry>> {
    const reader = await this.pointReader();
    const isNew = (id: string) => this.core.idCeiling.isAbove(id);
    return request instanceof Map ? revsDiff(reader, request, isNew) : revsDiff(reader, request as Record<string, unknown>, isNew);
  }

  async allDocs(options: AllDocsOptions = {}): Promise<AllDocsResult> {
    const listing = await this.allDocsListing(options);
    const rows: AllDocsRow[] = [];
    for await (const chunk of listing.chunks) for (const row of chunk) rows.push(row);
    return { totalRows: listing.totalRows, offset: listing.offset, rows, updateSeq: listing.updateSeq };
  }

  /**
   * allDocs read chunk by chunk from one snapshot, for answers written out as they are read (the
   * HTTP `_all_docs`): totals and offset are the snapshot's, whatever is written meanwhile.
   */
  async allDocsListing(options: AllDocsOptions = {}): Promise<AllDocsListing> {
    this.check();
    checkAllDocsOptions(options);
    const from = offsetKey(options);
    if (from !== undefined) await this.countIds(from);
    const ids = this.core.idCounts;
    const descending = options.descending === true;
    const { snap, state, counted } = await this.listingSnapshot(from === undefined ? undefined : (s) => ids.before(s, from, descending));
    // Descending, the rows before the first are those after the start key.
    const before = counted === undefined ? 0 : Math.max(0, descending ? state.docCount - counted : counted);
    const progress = { skipped: 0 };
    const inline = options.attachments && options.includeDocs;
    const rows = async function* (this: Database) {
      for await (const chunk of allDocsChunks(snap, options, progress)) {
        if (inline) await this.inlineAll(chunk.map((r) => r.doc));
        yield chunk;
      }
    }.call(this);
    return {
      ...snapshotChunks(snap, rows),
      state,
      totalRows: state.docCount,
      updateSeq: state.seq,
      get offset() {
        return progress.skipped + before;
      },
    };
  }

  /** Local documents (replication checkpoints and the like), listed as `_all_docs` lists documents. */
  async localDocs(options: AllDocsOptions = {}): Promise<AllDocsRow[]> {
    const listing = await this.localDocsListing(options);
    const rows: AllDocsRow[] = [];
    for await (const chunk of listing.chunks) for (const row of chunk) rows.push(row);
    return rows;
  }

  /** localDocs read chunk by chunk from one snapshot, for answers written out as they are read (the HTTP `_local_docs`). */
  async localDocsListing(options: AllDocsOptions = {}): Promise<Listing<AllDocsRow>> {
    this.check();
    checkAllDocsOptions(options);
    const { snap, state } = await this.listingSnapshot();
    return { ...snapshotChunks(snap, localDocsChunks(snap, options)), state };
  }

  /**
   * Makes the live-document counts ready to answer an offset at `id`: the first call counts every
   * document once, and a segment grown too long is cut again (jobs that hold writes back).
   */
  private async countIds(id: string): Promise<void> {
    const counts = this.core.idCounts;
    const store = this.core.store;
    if (!counts.ready) await this.writer.submit(() => (counts.ready ? Promise.resolve() : counts.count(store)), true);
    if (counts.needsCut(id)) await this.writer.submit(() => (counts.needsCut(id) ? counts.recut(store, id) : Promise.resolve()), true);
  }
}
