// Public shapes of the document API. CouchDB's wire names (`_id`, `_rev`, `_deleted`) stay inside
// documents because they are part of the document; options and results are camelCase.

import type { JsonValue } from '../errors/index.ts';
import type { Rev } from './rev-tree.ts';

export type JsonObject = { [key: string]: unknown };

/** A document as callers see it: a JSON object with optional CouchDB special fields. */
export interface Doc extends JsonObject {
  _id?: string;
  _rev?: Rev;
  _deleted?: boolean;
}

export type Durability = 'durable' | 'fast';

export interface DatabaseInfo {
  dbName: string;
  docCount: number;
  docDelCount: number;
  updateSeq: number;
  engine: string;
  durability: Durability;
  autoIndex: boolean;
  revsLimit: number;
  /** Purge requests applied (one per document id named), CouchDB's purge_seq. */
  purgeSeq: number;
  /** A compaction is under way (CouchDB's `compact_running`). */
  compactRunning: boolean;
  /** CouchDB's `instance_start_time`: another value once the database is deleted and created again. */
  instanceStartTime: string;
  /**
   * When the engine can tell: `file`, the bytes on disk (tables and log); `active`, the live data
   * as the engine estimates it from its tables (0 while everything is still in the log).
   */
  sizes?: { file: number; active: number; external: number };
}

export interface WriteResult {
  ok: true;
  id: string;
  rev: Rev;
}

export interface WriteFailure {
  id: string;
  error: string;
  /** A string, or the value a validate_doc_update function refused the document with (`throw({forbidden: value})`), as CouchDB answers it. */
  reason: JsonValue;
}

export interface BulkDocsOptions {
  /** false: store the given revisions as they are (replication), merging `_revisions` histories. */
  newEdits?: boolean;
  /** Who writes, for `validate_doc_update` (default: the local admin). */
  userCtx?: import('./hooks.ts').UserCtx;
}

export interface GetOptions {
  rev?: Rev;
  revs?: boolean;
  revsInfo?: boolean;
  conflicts?: boolean;
  deletedConflicts?: boolean;
  latest?: boolean;
  localSeq?: boolean;
  /** Inline attachment data (base64) instead of stubs. */
  attachments?: boolean;
  /**
   * Attachment data (with or without `attachments`), but only for attachments changed after the
   * newest of these revisions the document descends from; an empty list names none: all of them.
   */
  attsSince?: Rev[];
  /**
   * With `attachments` (or `attsSince`): the attachments that would carry data are marked
   * `follows: true` with their `length` and `digest` instead, unread, for a caller that streams
   * their bytes from the blob store after the document (CouchDB's multipart answers).
   */
  attachmentsFollow?: boolean;
  /**
   * With `attachments` (or `attsSince`): the data is an AttachmentBytes, read from the blob store
   * only when written (a replication source: another database's write names the same blob, or
   * streams it, never base64).
   */
  attachmentBytes?: boolean;
}

export type OpenRevsResult = Array<{ ok: Doc } | { missing: Rev }>;

export interface AllDocsOptions {
  startkey?: string;
  endkey?: string;
  key?: string;
  keys?: string[];
  inclusiveEnd?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  includeDocs?: boolean;
  conflicts?: boolean;
  /** With `includeDocs`: attachments carry their data (base64), not stubs. */
  attachments?: boolean;
  /**
   * `false`: `offset` is only the rows skipped, without counting the documents before the start key
   * (for listings that never read it; the first count of a database scans all of it).
   */
  offset?: false;
}

export interface AllDocsRow {
  id?: string;
  key: string;
  value?: { rev: Rev; deleted?: true };
  doc?: Doc | null;
  error?: string;
}

export interface AllDocsResult {
  totalRows: number;
  offset: number;
  rows: AllDocsRow[];
  /** The database's update sequence as of the listing. */
  updateSeq: number;
}

export type ChangesStyle = 'main_only' | 'all_docs';

export interface ChangesOptions {
  since?: number;
  limit?: number;
  descending?: boolean;
  includeDocs?: boolean;
  conflicts?: boolean;
  /** Included documents carry `_revisions`, as a get with `revs` (a replicator can then skip its bulkGet). */
  revs?: boolean;
  /**
   * With `includeDocs`: once the included documents' stored size passes this many bytes, the
   * remaining rows come without `doc` (a replicator fetches those apart, so one answer stays bounded).
   */
  maxDocBytes?: number;
  /** With `includeDocs`: attachments carry their data (base64), not stubs. */
  attachments?: boolean;
  /**
   * With `includeDocs`: rows whose document can be spliced from its stored text carry it as
   * `docJson` instead of `doc` (no parse, no serialization); the others carry `doc`. For answers
   * written out as JSON, such as the HTTP feed's.
   */
  docText?: boolean;
  style?: ChangesStyle;
  docIds?: string[];
  selector?: unknown;
  /**
   * With `includeDocs`: included documents keep only these fields (Mango's `fields`, as `find`
   * takes them). CouchDB takes them with a `_selector` filter; the selector still sees whole documents.
   */
  fields?: readonly string[];
  /** A design-document filter (`ddoc/name`), `_view` (with `view: 'ddoc/view'`) or `_design`. */
  filter?: string;
  view?: string;
  /** Handed to a filter function as `req.query`. */
  queryParams?: Record<string, unknown>;
  userCtx?: import('./hooks.ts').UserCtx;
  /**
   * More of the `req` a filter function gets, where a request made the feed (the HTTP layer's
   * method, headers, body, path, peer), as CouchDB hands them.
   */
  filterRequest?: Record<string, unknown>;
}

export interface ChangeRow {
  seq: number;
  id: string;
  changes: Array<{ rev: Rev }>;
  deleted?: true;
  doc?: Doc;
  /** The document as JSON text, in place of `doc` (see ChangesOptions.docText). */
  docJson?: string;
}

export interface ChangesResult {
  results: ChangeRow[];
  lastSeq: number;
}

export interface SubscribeOptions extends Omit<ChangesOptions, 'descending' | 'limit'> {
  /** Largest batch delivered at once (default 100). */
  batchSize?: number;
  /** After a first change arrives, wait up to this many ms for more before delivering (default 0). */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Told after each read the sequence it reached, changes a filter passed over included. */
  onRead?: (lastSeq: number) => void;
}

export interface RevsDiffEntry {
  missing: Rev[];
  possibleAncestors?: Rev[];
}

export interface RevsDiffResult {
  [id: string]: RevsDiffEntry;
}

export interface BulkGetRequest {
  id: string;
  rev?: Rev;
  atts_since?: Rev[];
}

export interface BulkGetResult {
  results: Array<{
    /** null when the item named no id (CouchDB's "document id missed"). */
    id: string | null;
    docs: Array<{ ok: Doc } | { error: { id: string | null; rev: Rev | null | undefined; error: string; reason: string } }>;
  }>;
}
