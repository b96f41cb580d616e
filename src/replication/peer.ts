// The one thing the replicator talks to: a database seen through CouchDB's replication protocol.
// A local Database, a CouchDB-compatible HTTP endpoint or (later) a mesh stream all implement it.

import type { BulkGetRequest, BulkGetResult, Doc, RevsDiffEntry } from '../documents/index.ts';
import type { JsonValue } from '../errors/index.ts';

/**
 * A position in a changes feed. Opaque: CouchDB 2+ uses strings like "12-g1AAA…", Refuge and
 * pouchdb-server use numbers. The replicator only ever passes them back, never compares or parses.
 */
export type Seq = string | number;

export interface PeerInfo {
  updateSeq: Seq;
  dbName?: string;
  instanceStartTime?: string;
  docCount?: number;
}

export interface PeerChangesRequest {
  since: Seq;
  limit: number;
  /** all_docs: every leaf of each document; main_only: its winning revision only (winningRevsOnly). */
  style: 'all_docs' | 'main_only';
  docIds?: readonly string[];
  /** A Mango selector; only sent when `capabilities.selector` is true. */
  selector?: unknown;
  /** A design-document filter (`ddoc/name`) and the parameters its function sees as `req.query`. */
  filter?: { name: string; queryParams: Record<string, unknown> };
  /** 'longpoll': when nothing is new, wait up to `timeoutMs` for a change before answering. */
  feed?: 'normal' | 'longpoll';
  timeoutMs?: number;
  /**
   * Rows also carry the winning revision as bulkGet would answer it (with `_revisions`), so the
   * replicator needs no bulkGet for it. Only sent when `capabilities.changesDocs` is true; a row
   * may still come without `doc` (attachments, say), and is then fetched as usual.
   */
  includeDocs?: boolean;
  /**
   * With `includeDocs`: rows may carry the document as JSON text (`docJson`) instead of `doc`,
   * for a server that writes the answer out as JSON (the mesh's). The replicator never asks it.
   */
  docText?: boolean;
  signal?: AbortSignal;
}

export interface PeerChangeRow {
  seq: Seq;
  id: string;
  changes: Array<{ rev: string }>;
  deleted?: boolean;
  /** The winning revision with `_revisions`, when asked with `includeDocs` (see there). */
  doc?: Doc;
  /** `doc` as JSON text, in its place, when asked with `docText`. */
  docJson?: string;
  /** Bytes of the winning revision's attachments, when its doc came with stubs (sizes its fetch). */
  attachmentBytes?: number;
}

/** The bytes a document's attachment stubs announce (0 when none say). */
export function attachmentBytesOf(doc: Doc): number {
  let total = 0;
  for (const stub of Object.values((doc._attachments ?? {}) as Record<string, { length?: unknown }>)) {
    if (typeof stub?.length === 'number' && stub.length > 0) total += stub.length;
  }
  return total;
}

export interface PeerChanges {
  results: PeerChangeRow[];
  lastSeq: Seq;
  /** Changes left after this answer, when the peer can tell (CouchDB 2+). */
  pending?: number;
}

/** One entry per document the target refused; successes may be left out (CouchDB does). */
export interface PeerWriteResult {
  id: string;
  rev?: string;
  ok?: boolean;
  error?: string;
  /** A string, or the value a validate_doc_update function refused the document with (CouchDB passes it through). */
  reason?: JsonValue;
}

export interface PeerCapabilities {
  /** A real `_bulk_get`; false when the peer emulates it (one request per document). */
  bulkGet: boolean;
  /** Changes filtered by a Mango selector. */
  selector: boolean;
  /** Changes can wait for the next change instead of being polled. */
  longpoll: boolean;
  /** Changes can carry the winning documents (`includeDocs`): one round trip less per batch. */
  changesDocs?: boolean;
  /**
   * bulkDocs takes attachment data given as AttachmentBytes (read only as written), not only base64:
   * the replicator hands such a peer what a local source read without turning it into text.
   */
  attachmentBytes?: boolean;
  /**
   * bulkGet honours a request's `atts_since` (the target's possible ancestors): attachments the
   * target has in one of those revisions come as stubs, not their bytes (CouchDB's replicator asks so).
   */
  attsSince?: boolean;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ReplicationPeer {
  readonly capabilities: PeerCapabilities;
  /** A stable name for this database as seen from here; part of the replication id. */
  identity(): Promise<string>;
  /** Fails with `not_found` when the database does not exist. */
  info(options?: CallOptions): Promise<PeerInfo>;
  /** Creates the database if it is missing (used for `createTarget`). Absent: cannot create. */
  createDatabase?(options?: CallOptions): Promise<void>;
  changes(request: PeerChangesRequest): Promise<PeerChanges>;
  /**
   * Optional: a normal feed of up to `request.limit` rows read as it comes, in pages of `pageSize`
   * rows (each full but the last, which carries the feed's last seq and may be empty). For a
   * remote peer, where one streamed answer spares a round trip per page.
   */
  changesFeed?(request: PeerChangesRequest, pageSize: number): AsyncIterable<PeerChanges>;
  /** id -> revs asked; answers id -> what is missing, for the ids that miss something. Maps: see reads.ts. */
  revsDiff(request: ReadonlyMap<string, string[]>, options?: CallOptions): Promise<ReadonlyMap<string, RevsDiffEntry>>;
  /** Each returned document carries `_revisions` (revs) and is the newest leaf of its branch (latest). */
  bulkGet(
    requests: readonly BulkGetRequest[],
    options: { revs: true; latest: true } & CallOptions,
  ): Promise<BulkGetResult>;
  bulkDocs(docs: readonly Doc[], options: { newEdits: false } & CallOptions): Promise<PeerWriteResult[]>;
  /** A `_local/` document, or undefined when there is none. */
  getLocal(id: string, options?: CallOptions): Promise<Doc | undefined>;
  /** Writes a `_local/` document (with `_rev` when replacing); answers its new rev. */
  putLocal(doc: Doc, options?: CallOptions): Promise<{ rev: string }>;
  /**
   * Asks the peer to make written data durable before a checkpoint names it; answers the database's
   * `instance_start_time` when the peer tells it (another one: the database was created again).
   */
  ensureFullCommit?(options?: CallOptions): Promise<string | undefined>;
}
