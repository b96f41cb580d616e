// The document records one write batch works on: each read once (a bulk write's in one storage
// round trip), then held with the batch's own changes, with its stored length for the counters.

import type { KvStore } from '../storage/index.ts';
import { decodeRecordForWrite, type DocRecord } from './doc-record.ts';
import type { IdCeiling } from './id-ceiling.ts';
import { docKey } from './keys.ts';

/** A record loaded or written (null: no such document) with its stored length, for the live bytes counter. */
interface Held {
  record: DocRecord | null;
  length: number;
}

export class BatchRecords {
  /** Loaded or written records, by id: one map, not one per field (a single put's batch makes it anew). */
  private readonly records = new Map<string, Held>();

  /** `pending` answers for keys written by earlier change sets not yet flushed to storage. */
  constructor(
    private readonly store: KvStore,
    private readonly pending: (key: string) => string | null | undefined,
    /** Ids above it are known to be new: not looked for in storage or the unflushed writes. */
    private readonly ceiling: IdCeiling,
  ) {}

  /** A record already loaded (undefined when there is none, or it is not loaded). */
  loaded(id: string): DocRecord | undefined {
    return this.records.get(id)?.record ?? undefined;
  }

  /** Replaces a record (null: the document is gone); answers the stored length it had. */
  set(id: string, record: DocRecord | null, storedLength: number): number {
    if (record !== null) this.ceiling.raise(id);
    const held = this.records.get(id);
    if (held === undefined) {
      this.records.set(id, { record, length: storedLength });
      return 0;
    }
    const before = held.length;
    held.record = record;
    held.length = storedLength;
    return before;
  }

  /** A document's record, read first when it is not loaded. */
  async get(id: string): Promise<DocRecord | undefined> {
    if (!this.records.has(id)) await this.loadOne(id);
    return this.loaded(id);
  }

  /** Loads the current records of these ids in one storage round trip. */
  async load(docIds: Iterable<string>): Promise<void> {
    if (Array.isArray(docIds) && docIds.length === 1) return this.loadOne(docIds[0]!);
    const missing: string[] = [];
    for (const id of new Set(docIds)) {
      if (this.records.has(id)) continue;
      // Above the ceiling, an id has no record pending either (a pending record raised it).
      if (this.ceiling.isAbove(id)) this.found(id, undefined);
      else missing.push(id);
    }
    if (missing.length === 0) return;
    const store = this.store;
    const keys = missing.map(docKey);
    // Unflushed values are taken before reading storage: if a flush completed during the read, the
    // overlay would already be empty and the read could predate that flush. Keys not pending now
    // cannot change in storage before this batch commits (the writer is the only writer).
    const queued = keys.map((k) => this.pending(k));
    const toRead = keys.filter((_, i) => queued[i] === undefined);
    // A few keys are cheaper read synchronously than through the thread pool.
    const read =
      store.getSync && toRead.length <= 8 ? toRead.map((k) => store.getSync!(k)) : await store.getMany(toRead);
    let r = 0;
    missing.forEach((id, i) => {
      const q = queued[i];
      this.found(id, q === undefined ? read[r++] : (q ?? undefined));
    });
  }

  /**
   * True once the record of `id` is loaded, read now if that can be done without waiting (it is
   * pending, or the engine reads synchronously): a document given no id, or not in the preload,
   * is then written without a turn.
   */
  loadedNow(id: string): boolean {
    if (this.records.has(id)) return true;
    if (this.ceiling.isAbove(id)) {
      this.found(id, undefined);
      return true;
    }
    const key = docKey(id);
    const queued = this.pending(key);
    if (queued !== undefined) this.found(id, queued ?? undefined);
    else if (this.store.getSync) this.found(id, this.store.getSync(key));
    else return false;
    return true;
  }

  /** A single put's read, without the arrays of the general case. */
  private loadOne(id: string): Promise<void> {
    return this.loadedNow(id) ? Promise.resolve() : this.load(new Set([id]));
  }

  private found(id: string, stored: string | undefined): void {
    this.records.set(id, { record: stored === undefined ? null : decodeRecordForWrite(id, stored), length: stored?.length ?? 0 });
  }
}
