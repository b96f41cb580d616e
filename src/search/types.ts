// The search folder's shared shapes: what a document indexer yields per document, what a query
// asks, and what it answers (CouchDB's search response, snake_case only at the wire edge).
import type { Doc } from '../documents/index.ts';

/** One `index(field, value, options)` call: options `store` (return it in rows), `index: false` (store only). */
export type FieldEntry = readonly [field: string, value: unknown, options: Readonly<Record<string, unknown>>];

/** Turns documents into field entries; `null` or an error (that document's own) leaves it out. */
export interface DocumentIndexer {
  entries(docs: readonly Doc[]): Promise<ReadonlyArray<readonly FieldEntry[] | null | Error>> | ReadonlyArray<readonly FieldEntry[] | null | Error>;
  dispose?(): void;
}

export interface SearchQuery {
  /** Lucene-like query string; may be omitted when `fields` says what to find. */
  q?: string;
  /** Terms side by side need only one to match (default: all must). */
  any?: boolean;
  /** Structured field filters, all required: a string's terms must all match, an array is any of its values. */
  fields?: Readonly<Record<string, string | readonly string[]>>;
  /** Rows per page: default 25, at most 200. */
  limit?: number;
  /** From a previous result: continue after its last row. */
  bookmark?: string;
  /** Stored fields to order by ("title", "-year<number>"); default: score, best first. */
  sort?: string | readonly string[];
  /** Attach each row's document (only through an async query path that can fetch them). */
  includeDocs?: boolean;
}

export interface SearchRow {
  id: string;
  /** Sort keys of the row: [score, id] by default, else the sort fields' values then id. */
  order: unknown[];
  fields: Record<string, unknown>;
  doc?: Doc | null;
}

export interface SearchResult {
  total_rows: number;
  bookmark: string;
  rows: SearchRow[];
}

/** Fetches documents by id for `include_docs` (null for one that is gone). */
export type FetchDocs = (ids: readonly string[]) => Promise<Array<Doc | null>>;
