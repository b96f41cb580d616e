// The one error hierarchy: every failure Refuge reports carries a stable `code` (CouchDB's `error`
// on the wire), a human `reason`, and the HTTP status CouchDB would use.

export type ErrorCode =
  | 'bad_request'
  | 'not_found'
  | 'db_not_found'
  | 'illegal_database_name'
  | 'illegal_docid'
  /** A partition name couch_partition:validate_partition refuses (a `_find` body's `partition`). */
  | 'illegal_partition'
  | 'bad_content_type'
  | 'method_not_allowed'
  | 'gone'
  | 'conflict'
  | 'file_exists'
  | 'precondition_failed'
  | 'missing_stub'
  | 'forbidden'
  | 'unauthorized'
  | 'doc_validation'
  | 'invalid_rev'
  | 'bad_selector'
  | 'invalid_selector_json'
  | 'invalid_selector'
  | 'invalid_operator'
  | 'not_supported'
  | 'bad_arg'
  | 'invalid_sort_json'
  | 'invalid_sort_field'
  | 'unsupported_mixed_sort'
  | 'invalid_fields'
  /** One element of a Mango `fields` that is no string. */
  | 'invalid_field'
  | 'invalid_bookmark'
  | 'missing_required_key'
  | 'invalid_non_neg_integer'
  | 'invalid_pos_integer'
  | 'invalid_boolean'
  | 'invalid_bulk_docs'
  | 'invalid_list_index_params'
  | 'no_usable_index'
  | 'invalid_index_name'
  /** A `POST /db/_index` of a type Mango does not know. */
  | 'invalid_index'
  | 'invalid_key'
  /** A `POST /db/_index` option that must be a string (`type`, `name`, `ddoc`). */
  | 'invalid_string'
  /** A `POST /db/_index` naming a design document that holds views of another language. */
  | 'invalid_ddoc_lang'
  /** A `POST /db/_index` whose `partitioned` differs from its existing design document's. */
  | 'invalid_partitioned_option'
  | 'invalid_ok_or_false_value'
  | 'compilation_error'
  | 'query_parse_error'
  | 'invalid_design_doc'
  | 'reduce_error'
  | 'builtin_reduce_error'
  | 'invalid_value'
  | 'sandbox_error'
  | 'render_error'
  | 'timeout'
  /** A request body that arrived too slowly (HTTP 408). */
  | 'request_timeout'
  | 'hash_mismatch'
  /** An upload whose bytes do not match the Content-MD5 its client sent (CouchDB's own check). */
  | 'content_md5_mismatch'
  | 'too_large'
  /** One document over the node's `max_document_size` (CouchDB's 413 for it, per document in a bulk). */
  | 'document_too_large'
  /** A byte range that selects nothing of a blob or attachment (HTTP 416). */
  | 'requested_range_not_satisfiable'
  | 'not_implemented'
  | 'closed'
  /** A database or data directory another open holds (LevelDB's lock): one node per directory. */
  | 'locked'
  | 'unavailable'
  /**
   * A Mango index of a type whose service the node lacks (a text index: Refuge's full-text search
   * lives in design documents); CouchDB's own error, spaces and all (mango_error's index_service_unavailable).
   */
  | 'required index service unavailable'
  /** A peer answered something a CouchDB peer never would (a wrong shape, documents not asked for). */
  | 'bad_gateway'
  /**
   * A replication checkpoint that no longer matches the databases the session started with (one
   * was deleted and created again, another run wrote the log): CouchDB's checkpoint_commit_failure.
   */
  | 'checkpoint_commit_failure'
  /**
   * Revisions a replication source listed in its changes and kept failing to return (CouchDB's
   * replicator's missing_doc): the replication starts again from its checkpoint, never past them.
   */
  | 'missing_doc'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  // A replication endpoint that names no database (CouchDB's _replicate answer).
  db_not_found: 404,
  illegal_database_name: 400,
  illegal_docid: 400,
  illegal_partition: 400,
  bad_content_type: 415,
  method_not_allowed: 405,
  // What CouchDB dropped for good (temporary views).
  gone: 410,
  conflict: 409,
  file_exists: 412,
  precondition_failed: 412,
  // A stub that names no attachment of the revision edited (or another revpos than its).
  missing_stub: 412,
  forbidden: 403,
  unauthorized: 401,
  doc_validation: 400,
  invalid_rev: 400,
  bad_selector: 400,
  // Mango's own names for what is wrong with a query (mango_error), all 400 as in CouchDB.
  invalid_selector_json: 400,
  invalid_selector: 400,
  invalid_operator: 400,
  not_supported: 400,
  bad_arg: 400,
  invalid_sort_json: 400,
  invalid_sort_field: 400,
  unsupported_mixed_sort: 400,
  invalid_fields: 400,
  invalid_field: 400,
  invalid_bookmark: 400,
  missing_required_key: 400,
  invalid_non_neg_integer: 400,
  invalid_pos_integer: 400,
  invalid_boolean: 400,
  invalid_bulk_docs: 400,
  // CouchDB answers a bad limit or skip on GET /db/_index with a 500 of its own.
  invalid_list_index_params: 500,
  no_usable_index: 400,
  invalid_index_name: 400,
  invalid_index: 400,
  invalid_key: 400,
  invalid_string: 400,
  invalid_ddoc_lang: 400,
  invalid_partitioned_option: 400,
  invalid_ok_or_false_value: 400,
  // A design document function that does not compile (CouchDB answers 400 compilation_error).
  compilation_error: 400,
  query_parse_error: 400,
  invalid_design_doc: 400,
  // A reduce that failed or overflowed at query time.
  reduce_error: 500,
  builtin_reduce_error: 500,
  // CouchDB's `_stats` over values that are not numbers (an uncaught throw there: 500).
  invalid_value: 500,
  // User code that threw, ran out of memory or time inside the sandbox (CouchDB: os_process_error).
  sandbox_error: 500,
  // An update function whose answer is not [doc or null, response] (CouchDB's render_error).
  render_error: 500,
  timeout: 500,
  request_timeout: 408,
  hash_mismatch: 400,
  content_md5_mismatch: 400,
  too_large: 413,
  document_too_large: 413,
  requested_range_not_satisfiable: 416,
  not_implemented: 501,
  closed: 500,
  locked: 500,
  // A peer or service that could not be reached or answered 5xx: worth retrying later.
  unavailable: 503,
  'required index service unavailable': 503,
  bad_gateway: 502,
  // The checkpoint's state conflicts with this session's (CouchDB's job restarts; its tasks show the error).
  checkpoint_commit_failure: 409,
  missing_doc: 502,
  internal: 500,
};

/** True for the codes Refuge knows, so a peer's `{error}` on the wire can be mapped back. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(STATUS, code);
}

/** A value as JSON.parse gives it. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export class RefugeError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** What went wrong, as text (for logs and messages); see reasonValue for what goes on the wire. */
  readonly reason: string;
  /**
   * CouchDB's `reason` as it goes on the wire: `reason` itself, unless the error carries another JSON
   * value. A validate_doc_update function's `throw({forbidden: {field: "bad"}})` is answered with
   * that object, as CouchDB passes it through; `reason` is then its JSON text.
   */
  readonly reasonValue: JsonValue;

  constructor(code: ErrorCode, reason: string, options?: { cause?: unknown; status?: number; reasonValue?: JsonValue }) {
    super(reason, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RefugeError';
    this.code = code;
    this.reason = reason;
    this.reasonValue = options?.reasonValue === undefined ? reason : options.reasonValue;
    this.status = options?.status ?? STATUS[code];
  }

  /** CouchDB's wire shape. */
  toJSON(): { error: string; reason: JsonValue } {
    return { error: this.code, reason: this.reasonValue };
  }
}

/** The error a `{error, reason}` stands for, its reason any JSON value (a validate function's refusal). */
export function errorWithReason(code: ErrorCode, reason: JsonValue): RefugeError {
  return typeof reason === 'string' ? new RefugeError(code, reason) : new RefugeError(code, JSON.stringify(reason), { reasonValue: reason });
}

export const badRequest = (reason: string, cause?: unknown) => new RefugeError('bad_request', reason, { cause });
export const notFound = (reason = 'missing') => new RefugeError('not_found', reason);
/**
 * Made without a stack trace: a conflict is an answer (one row of a bulk write, a 409), not a fault
 * to trace, and capturing the stack was half a refused write's cost (a bulk re-send of 50k stored
 * documents: ~110k docs/s with it, ~210k without).
 */
export function conflict(reason = 'Document update conflict.'): RefugeError {
  // V8's knob (Node, Chromium); other engines have no such property and capture as they do.
  const engine = Error as ErrorConstructor & { stackTraceLimit?: number };
  const limit = engine.stackTraceLimit;
  engine.stackTraceLimit = 0;
  try {
    return new RefugeError('conflict', reason);
  } finally {
    engine.stackTraceLimit = limit;
  }
}

export function isRefugeError(err: unknown, code?: ErrorCode): err is RefugeError {
  return err instanceof RefugeError && (code === undefined || err.code === code);
}

/** Wraps an unknown failure so callers always see a RefugeError, keeping the original as `cause`. */
export function toRefugeError(err: unknown): RefugeError {
  if (err instanceof RefugeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RefugeError('internal', message, { cause: err });
}
