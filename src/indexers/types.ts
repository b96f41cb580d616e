// The indexer contract: a derived index (a view group, a Mango json index, a full-text index) that
// is fed the database's changes in sequence order and remembers how far it has read.
import type { Doc } from '../documents/index.ts';

/** One document's latest state, as an indexer sees it. */
export interface IndexerChange {
  seq: number;
  id: string;
  /** The winning revision is a deletion (or the document was purged): drop what the index holds for `id`. */
  deleted: boolean;
  /** The winning revision's body with `_id` and `_rev` (absent when deleted). */
  doc?: Doc;
}

export interface Indexer {
  /** 'view', 'mango', 'search', …: for reports and `_active_tasks`. */
  readonly kind: string;
  /** Highest database sequence already applied; 0 for a new index. Survives restart. */
  indexedSeq(): Promise<number>;
  /**
   * Applies changes in sequence order, then records `upTo` as the indexed sequence, atomically with
   * the rows where the store allows it. Re-applying a change already applied is harmless.
   */
  apply(changes: readonly IndexerChange[], upTo: number): Promise<void>;
  /**
   * Drops everything and starts again from sequence 0. Needed when the index lags behind more
   * purges than the database remembers (`purged_infos_limit`): it cannot tell which rows to drop;
   * or when the database lost writes the index may have read (a recount, `recoveredSeq`), which
   * `recoveredSeq` here records, so that the rebuild resumes after a cut rather than starting over.
   */
  reset?(recoveredSeq?: number): Promise<void>;
  /** The `recoveredSeq` recorded by the last reset (0 when none): the recount it was rebuilt after. */
  rebuiltFor?(): Promise<number>;
  close(): Promise<void>;
}

/**
 * How a query treats an index that lags the database, as CouchDB's `update` parameter:
 * 'true' catches up first, 'false' reads the index as it is, 'lazy' reads it as it is and then
 * catches up in the background.
 */
export type UpdateMode = 'true' | 'false' | 'lazy';
