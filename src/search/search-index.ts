// One full-text index as an Indexer: applies the changes feed (add, replace, remove per doc id),
// answers queries, and saves snapshots of itself now and then so a restart replays only the
// changes made since the last snapshot (apply is idempotent, so replaying a few twice is harmless).
import { RefugeError } from '../errors/index.ts';
import type { Indexer, IndexerChange } from '../indexers/index.ts';
import type { KvStore } from '../storage/index.ts';
import type { FieldAnalyzers } from './analyzers.ts';
import { createLibrary, loadLibrary, removeDocument, toRecord, type Library } from './library.ts';
import { runSearch } from './run-search.ts';
import { clearSnapshot, loadSnapshot, readMeta, writeSnapshot, type SnapshotMeta } from './snapshot.ts';
import type { DocumentIndexer, SearchQuery, SearchResult } from './types.ts';

export interface SearchIndexOptions {
  store: KvStore;
  /** Every key this index writes starts with it (several indexes share one store). */
  prefix: string;
  /** The definition's signature: a snapshot of another definition is never loaded. */
  signature: string;
  source: DocumentIndexer;
  analyzers: FieldAnalyzers;
  /** Fields an unqualified query term searches. */
  defaultFields: readonly string[];
  /** Save once this many changes wait unsaved (default 10,000). */
  saveEvery?: number;
  /** Otherwise save this long after the first unsaved change (default 5,000 ms). */
  saveDelayMs?: number;
  /** A background save failed (the index itself is fine; a restart replays more). */
  onError?: (err: unknown) => void;
}

export interface SearchIndexStats {
  /** Seq of the snapshot loaded at open (0 when built from scratch). */
  loadedSeq: number;
  /** Changes applied since open (replayed ones included). */
  appliedChanges: number;
  saves: number;
  lastSaveMs: number;
}

// A save may cost at most this fraction of the time between saves (big indexes save less often).
const SAVE_COST_SHARE = 0.1;

export class SearchIndex implements Indexer {
  readonly kind = 'search';
  readonly stats: SearchIndexStats = { loadedSeq: 0, appliedChanges: 0, saves: 0, lastSaveMs: 0 };
  private seq: number;
  private savedSeq: number;
  private unsaved = 0;
  private saving: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastSaveEnd = 0;
  private closed = false;
  /** See Indexer.rebuiltFor: kept in memory and with each snapshot. */
  private rebuiltForSeq: number;

  private constructor(
    private readonly options: SearchIndexOptions,
    private library: Library,
    private meta: SnapshotMeta | undefined,
  ) {
    this.seq = this.savedSeq = meta?.seq ?? 0;
    this.rebuiltForSeq = meta?.rebuiltFor ?? 0;
    this.stats.loadedSeq = this.seq;
  }

  /** Opens the index from its last snapshot under `prefix`, or empty when there is none. */
  static async open(options: SearchIndexOptions): Promise<SearchIndex> {
    const snap = await loadSnapshot(options.store, options.prefix, options.signature);
    if (snap) {
      try {
        return new SearchIndex(options, loadLibrary(JSON.parse(snap.text)), snap.meta);
      } catch {
        // A snapshot that does not load costs a rebuild, not an error.
      }
    }
    if (await readMeta(options.store, options.prefix)) await clearSnapshot(options.store, options.prefix);
    return new SearchIndex(options, createLibrary(), undefined);
  }

  /** The seq the in-memory index reflects (the snapshot's right after open). */
  async indexedSeq(): Promise<number> {
    return this.seq;
  }

  async rebuiltFor(): Promise<number> {
    return this.rebuiltForSeq;
  }

  get documentCount(): number {
    return this.library.documentCount;
  }

  /** The seq of the last saved snapshot (CouchDB's committed_seq; indexedSeq is pending_seq). */
  get committedSeq(): number {
    return this.savedSeq;
  }

  async apply(changes: readonly IndexerChange[], upTo: number): Promise<void> {
    this.check();
    const live = changes.filter((c) => !c.id.startsWith('_design/'));
    const docs = live.filter((c) => !c.deleted && c.doc);
    const entries = docs.length === 0 ? [] : await this.options.source.entries(docs.map((c) => c.doc!));
    const byId = new Map(docs.map((c, i) => [c.id, entries[i]]));
    // Only the last state of an id counts (the feed has one row per id; this keeps it so anyway).
    for (const c of live) {
      removeDocument(this.library, c.id);
      const e = byId.get(c.id);
      if (c.deleted || !Array.isArray(e)) continue;
      const record = toRecord(c.id, e, this.options.analyzers);
      if (record) this.library.add(record);
    }
    this.seq = Math.max(this.seq, upTo);
    this.unsaved += changes.length;
    this.stats.appliedChanges += changes.length;
    this.scheduleSave();
  }

  /** Empties the index and its snapshot, to be rebuilt from sequence 0 (it lagged behind purges). */
  async reset(recoveredSeq = 0): Promise<void> {
    this.check();
    this.clearTimer();
    await this.saving;
    await clearSnapshot(this.options.store, this.options.prefix);
    this.library = createLibrary();
    this.meta = undefined;
    this.seq = this.savedSeq = 0;
    this.unsaved = 0;
    this.rebuiltForSeq = recoveredSeq;
  }

  /** Answers a query from the index as it is (no catching up: see SearchIndexes for that). */
  search(query: SearchQuery): SearchResult {
    this.check();
    return runSearch(this.library, query, { analyzers: this.options.analyzers, defaultFields: this.options.defaultFields });
  }

  /** Saves a snapshot now (after any save in progress) if anything changed since the last one. */
  flush(): Promise<void> {
    this.clearTimer();
    const run = this.saving.then(() => this.save());
    this.saving = run.catch(() => undefined);
    return run;
  }

  /** Saves what is unsaved and stops; `{save: false}` drops it instead (as a crash would). */
  async close(options: { save?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.clearTimer();
    if (options.save !== false) await this.flush();
    else await this.saving;
    this.closed = true;
    this.options.source.dispose?.();
  }

  private check(): void {
    if (this.closed) throw new RefugeError('closed', 'search index is closed');
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private scheduleSave(): void {
    if (this.seq === this.savedSeq && this.unsaved === 0) return;
    const sinceLast = performance.now() - this.lastSaveEnd;
    const gap = this.stats.lastSaveMs / SAVE_COST_SHARE;
    if (this.unsaved >= (this.options.saveEvery ?? 10_000) && sinceLast >= gap) {
      this.flush().catch((err) => this.options.onError?.(err));
      return;
    }
    if (this.timer) return;
    const delay = Math.max(this.options.saveDelayMs ?? 5_000, gap - sinceLast);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch((err) => this.options.onError?.(err));
    }, delay);
    // A pending save must not keep a process alive: close() saves anyway.
    (this.timer as { unref?: () => void }).unref?.();
  }

  private async save(): Promise<void> {
    if (this.seq === this.savedSeq && this.unsaved === 0) return;
    const start = performance.now();
    // Text and seq are taken together, synchronously: the snapshot is exactly the state at `seq`.
    const seq = this.seq;
    const unsaved = this.unsaved;
    const text = JSON.stringify(this.library);
    this.meta = await writeSnapshot(this.options.store, this.options.prefix, { signature: this.options.signature, seq, text, rebuiltFor: this.rebuiltForSeq }, this.meta);
    this.savedSeq = seq;
    this.unsaved -= unsaved;
    this.stats.saves++;
    this.lastSaveEnd = performance.now();
    this.stats.lastSaveMs = this.lastSaveEnd - start;
  }
}
