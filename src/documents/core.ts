// The shared state of one open database that its read and write modules work on.

import type { IndexValue } from '../query/index.ts';
import type { KvStore } from '../storage/index.ts';
import type { IdCounts } from './id-counts.ts';
import type { IdCeiling } from './id-ceiling.ts';
import type { SeqCounts } from './seq-counts.ts';
import type { Durability, JsonObject } from './types.ts';

export interface DbState {
  seq: number;
  docCount: number;
  delCount: number;
  revsLimit: number;
  autoIndex: boolean;
  /**
   * The path index holds every entry of every winner. False from the moment autoIndex is turned
   * on until its rebuild has finished: an open that finds it false (a crash mid-rebuild) rebuilds.
   */
  pathIndexReady: boolean;
  /** Purge requests applied so far, one per document id named (CouchDB's purge_seq). */
  purgeSeq: number;
  /** Purge infos kept (CouchDB's purged_infos_limit); older ones are dropped. */
  purgedInfosLimit: number;
  /**
   * Update seq of the newest purge info dropped by that limit: an index behind it cannot learn
   * every purge from the infos kept, and is rebuilt.
   */
  purgeTrimmedSeq: number;
  /**
   * Bytes of the stored records of every document (winning body and tree): CouchDB's sizes.external.
   * Kept by each write; a database written before it was kept starts counting from 0.
   */
  liveBytes: number;
  /**
   * Bytes of the attachments the documents' winning revisions name, each counted: CouchDB counts
   * them in its sizes (the blobs themselves are the node's, shared). Kept by each write; counted
   * from the records at the first open of a database whose counters were stored before it was kept.
   */
  attBytes?: number;
  /**
   * Set by the first write with attachments, and kept: a compaction or a purge notes the
   * attachments it may drop (for the node's blob gc) only in a database that ever had some. Absent
   * in counters stored before it was kept: such a database is taken to have had some.
   */
  attachmentsSeen?: boolean;
  /**
   * Bytes of the bodies kept for revisions that are no leaves any more (what compaction drops),
   * as writes stored them; less what compactions dropped. Counted from when it was kept, as liveBytes.
   */
  oldBodyBytes: number;
  /** Every byte ever added to oldBodyBytes: a compaction keeps only what was added while it ran. */
  oldBodyAdded: number;
  /** Write groups that changed the path index so far: the tag of the next one's postings. */
  indexGroup: number;
  /** The path index layout on disk (INDEX_LAYOUT once rebuilt or written by this code). */
  indexLayout: number;
  /**
   * Set (and stored) before the counters are counted again after the storage dropped damaged
   * data (recount.ts): an open that finds it set counts again, since the storage says so only once.
   */
  recountPending?: boolean;
  /**
   * The sequence the last recount started from (above every sequence given before it). A derived
   * index built before it may hold writes the storage then lost: it is rebuilt, and records this
   * value (Indexer.rebuiltFor), so it is not rebuilt again for the same recount.
   */
  recoveredSeq?: number;
  /**
   * CouchDB's `instance_start_time`: when this database was created, in microseconds. A database
   * deleted and created again under its name gets another, which tells a replicator that the
   * checkpoints and sequences it holds belong to the old one. Absent in databases created before it
   * was kept: they answer "0", what they always answered.
   */
  instanceStartTime?: string;
}

/**
 * The path index layout this code writes: 2 = posting lists (postings.ts). A database stored
 * without it has the older one-key-per-entry index, which its next open rebuilds.
 */
export const INDEX_LAYOUT = 2;

export interface DbCore {
  readonly name: string;
  readonly store: KvStore;
  readonly durability: Durability;
  /** Committed counters; only the writer changes them, after a batch is on disk. */
  state: DbState;
  /** Sequence entries counted per block, kept by the writer (`pending` of the changes feed). */
  readonly seqCounts: SeqCounts;
  /** Live documents counted per segment of ids, kept by the writer (`offset` of `_all_docs`). */
  readonly idCounts: IdCounts;
  /** The highest id with a record, kept by the writer: ids above it are new without a read. */
  readonly idCeiling: IdCeiling;
  /** Calls `emit` with each path index entry (path, unencoded value) of a winning body. */
  indexEntries(body: JsonObject, emit: (path: string, value: IndexValue) => void): void;
  /**
   * Told when a write group drops stored revision bodies for good (stemming past revs_limit), with
   * the blob ids their attachments named, as far as they could be read without waiting.
   */
  onRevisionsDropped?: (named: ReadonlySet<string>) => void;
}

/** The counters of a database that has never been written. */
export function initialState(revsLimit: number, autoIndex: boolean): DbState {
  return { seq: 0, docCount: 0, delCount: 0, revsLimit, autoIndex, pathIndexReady: autoIndex, purgeSeq: 0, purgedInfosLimit: 1000, purgeTrimmedSeq: 0, liveBytes: 0, oldBodyBytes: 0, oldBodyAdded: 0, indexGroup: 0, indexLayout: INDEX_LAYOUT };
}

let lastInstanceStart = 0;

/** A new database's `instanceStartTime`: the time now in microseconds, never one given before here. */
export function newInstanceStartTime(): string {
  // Strictly increasing: a database deleted and made again within a millisecond still gets another.
  lastInstanceStart = Math.max(Date.now() * 1000, lastInstanceStart + 1);
  return String(lastInstanceStart);
}

export function encodeState(s: DbState): string {
  return JSON.stringify(s);
}

export function decodeState(v: string | undefined, defaults: DbState): DbState {
  if (v === undefined) return { ...defaults };
  const stored = JSON.parse(v) as Partial<DbState>;
  const state: DbState = { ...defaults, ...stored, indexLayout: INDEX_LAYOUT };
  // An index in another layout cannot be read: it is rebuilt, as after a rebuild cut short.
  if (stored.indexLayout !== INDEX_LAYOUT) state.pathIndexReady = false;
  return state;
}
