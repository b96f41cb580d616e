// A database: the public face over one key/value store. Reads go straight to storage (or a
// snapshot); every write goes through the single Writer so revision trees never race.

import { RefugeError, conflict } from '../errors/index.ts';
import type { KvStore, StorageEngine } from '../storage/index.ts';
import { allDocs } from './all-docs.ts';
import { checkChangesOptions, readChanges, type ChangesFilter } from './changes.ts';
import { compact, rebuildPathIndex } from './compaction.ts';
import { executeFind, explainFind, parseFind, pathQuery, type FindRequest, type FindResult, type PathQuery, type PathQueryRow } from './find.ts';
import { decodeState, type DbCore, type DbState } from './core.ts';
import { getLocal, validateLocalDoc, writeLocal } from './local-docs.ts';
import { META_KEY } from './keys.ts';
import { bulkGet, getDoc, getOpenRevs, revsDiff } from './reads.ts';
import type { Rev } from './rev-tree.ts';
import { CommitSignal, liveChanges } from './subscription.ts';
import type {
  AllDocsOptions,
  AllDocsResult,
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
  /** Compiles a Mango selector into a predicate, for changes filtered by selector. */
  compileSelector: (selector: unknown) => (doc: Doc) => boolean;
}

export class Database {
  private readonly writer: Writer;
  private readonly commits = new CommitSignal();
  private closed = false;

  private constructor(
    readonly core: DbCore,
    private readonly options: OpenDatabaseOptions,
  ) {
    this.writer = new Writer(core, () => this.commits.notify());
  }

  static async open(name: string, options: OpenDatabaseOptions): Promise<Database> {
    validateDbName(name);
    const store: KvStore = await options.engine.open({ location: options.location });
    try {
      const defaults: DbState = {
        seq: 0,
        docCount: 0,
        delCount: 0,
        revsLimit: options.revsLimit === undefined ? 1000 : validateRevsLimit(options.revsLimit),
        autoIndex: options.autoIndex !== false,
      };
      const stored = await store.get(META_KEY);
      const state = decodeState(stored, defaults);
      const wantIndex = options.autoIndex ?? state.autoIndex;
      const core: DbCore = {
        name,
        store,
        durability: options.durability ?? 'durable',
        state,
        indexEntries: options.indexEntries,
      };
      const db = new Database(core, options);
      if (stored === undefined) await db.writer.submit(async () => undefined);
      if (wantIndex !== state.autoIndex) await db.setAutoIndex(wantIndex);
      return db;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
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
    };
    if (this.core.store.capabilities.approximateSize) {
      info.sizes = { file: await this.core.store.approximateSize!({ gte: '', lt: '\u007f' }) };
    }
    return info;
  }

  // ---- writes ----

  async bulkDocs(docs: readonly unknown[], options: BulkDocsOptions = {}): Promise<Array<WriteResult | WriteFailure>> {
    this.check();
    if (!Array.isArray(docs)) throw new RefugeError('bad_request', 'docs must be an array');
    const newEdits = options.newEdits !== false;
    return this.writer.submit(async (batch) => {
      await batch.preload(docs.flatMap((d) => (d && typeof (d as Doc)._id === 'string' ? [(d as Doc)._id!] : [])));
      const out: Array<WriteResult | WriteFailure> = [];
      for (const doc of docs) out.push(await batch.write(doc, newEdits));
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
  async remove(id: string, rev: Rev): Promise<WriteResult> {
    if (typeof id === 'string' && id.startsWith('_local/')) return this.removeLocal(id, rev);
    if (typeof rev !== 'string') throw conflict();
    return this.put({ _id: id, _rev: rev, _deleted: true });
  }

  // ---- reads ----

  async get(id: string, options: GetOptions = {}): Promise<Doc> {
    await this.settle();
    if (typeof id !== 'string') throw new RefugeError('bad_request', 'Document id must be a string');
    if (id.startsWith('_local/')) return getLocal(this.core.store, id);
    return getDoc(this.core.store, id, options, this.core.state.revsLimit);
  }

  async getOpenRevs(id: string, revs: 'all' | readonly Rev[], options: GetOptions = {}): Promise<OpenRevsResult> {
    await this.settle();
    return getOpenRevs(this.core.store, id, revs, options, this.core.state.revsLimit);
  }

  async bulkGet(requests: readonly BulkGetRequest[], options: { revs?: boolean; latest?: boolean } = {}): Promise<BulkGetResult> {
    await this.settle();
    if (!Array.isArray(requests)) throw new RefugeError('bad_request', '`docs` must be an array');
    return this.withSnapshot((snap) => bulkGet(snap, requests, options, this.core.state.revsLimit));
  }

  async revsDiff(request: Record<string, unknown>): Promise<RevsDiffResult> {
    await this.settle();
    return revsDiff(this.core.store, request);
  }

  async allDocs(options: AllDocsOptions = {}): Promise<AllDocsResult> {
    await this.settle();
    const state = this.core.state;
    return this.withSnapshot((snap) => allDocs(snap, options, { docCount: state.docCount, revsLimit: state.revsLimit }));
  }

  async changes(options: ChangesOptions = {}): Promise<ChangesResult> {
    await this.settle();
    checkChangesOptions(options);
    const filter = this.compileFilter(options);
    const upTo = this.core.state.seq;
    return this.withSnapshot((snap) => readChanges(snap, options, filter, upTo, this.core.state.revsLimit));
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
    const filter = this.compileFilter(options);
    const source = {
      signal: this.commits,
      currentSeq: () => this.core.state.seq,
      read: async (since: number, limit: number) => {
        await this.settle();
        const upTo = this.core.state.seq;
        return this.withSnapshot((snap) =>
          readChanges(snap, { ...options, since, limit, descending: false }, filter, upTo, this.core.state.revsLimit),
        );
      },
    };
    return liveChanges(source, options.since ?? 0, batchSize, intervalMs, options.signal);
  }

  private compileFilter(options: ChangesOptions): ChangesFilter {
    const filter: ChangesFilter = {};
    if (options.docIds) filter.docIds = new Set(options.docIds);
    if (options.selector !== undefined) filter.match = this.options.compileSelector(options.selector);
    return filter;
  }

  // ---- queries ----

  /** Mango `_find`: exact results, using the path index where a clause allows. */
  async find(request: FindRequest): Promise<FindResult> {
    await this.settle();
    const parsed = parseFind(request, this.core.state.autoIndex);
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
    return explainFind(this.core.name, parseFind(request, this.core.state.autoIndex), request);
  }

  /**
   * Queries the path index directly: rows stream in value order (one per matching entry), so a
   * large result is never held in memory. Needs `autoIndex` on.
   */
  query(q: PathQuery): AsyncGenerator<PathQueryRow> {
    this.check();
    if (!this.core.state.autoIndex) throw new RefugeError('bad_request', 'the path index is off for this database (autoIndex: false)');
    const rows = pathQuery(this.core.store, q, this.core.state.revsLimit);
    const settle = () => this.settle();
    return (async function* () {
      await settle();
      yield* rows;
    })();
  }

  // ---- local documents ----

  async putLocal(doc: Doc): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc(doc);
    return this.writer.submit((batch) => writeLocal(batch, d, false));
  }

  async removeLocal(id: string, rev?: string): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc({ _id: id, _rev: rev });
    return this.writer.submit((batch) => writeLocal(batch, d, true));
  }

  // ---- maintenance ----

  async compact(): Promise<{ droppedBodies: number }> {
    this.check();
    return compact(this.core, this.writer);
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
    await this.writer.submit(async (batch) => {
      batch.state.autoIndex = on;
    }, true);
    await this.core.store.clear({ gte: 'i!', lt: 'i"' });
    if (on) await rebuildPathIndex(this.core, this.writer);
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
    this.commits.close();
    await this.core.store.close();
  }

  /** Closes and deletes everything this database stored. */
  async destroy(): Promise<void> {
    await this.close();
    await this.options.engine.destroy(this.options.location);
  }
}
