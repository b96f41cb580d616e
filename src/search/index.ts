// Full-text search defined in design documents (CouchDB's `_search`, Clouseau's query language).
// The search folder's face: the index as an Indexer, the per-database manager and the HTTP helper.
//
// A design document defines indexes under `indexes`, in either of two forms:
//
//   {"_id": "_design/s", "indexes": {
//     "byFn": {"index": "function (doc) { if (doc.title) index('title', doc.title, {store: true}); index('default', doc.body); }",
//              "analyzer": "standard"},
//     "byFields": {"fields": ["title", "body", "tags", "author.name"], "selector": {"type": "post"}, "store": ["title"]}
//   }}
//
// - Function form: `index(doc)` calls `index(field, value, options)` (string, number or boolean
//   value; options `store: true` to return the value in rows, `index: false` to store only). An
//   unqualified query term searches the field "default", as in CouchDB.
// - Fields form: the values at each dotted path (arrays flattened, nested objects walked to their
//   scalars) of the documents the optional Mango `selector` matches; `store` is true or a list of
//   fields returned in rows. An unqualified query term searches all listed fields.
// - `analyzer`: standard (default; lower-cased words, no stop words), simple, whitespace, keyword,
//   classic, email, or {"name": "perfield", "default": ..., "fields": {"field": name}}.
// Design documents themselves are never indexed.
//
// Queries (Lucene-like): `title:"big red" AND blu*`, `+a -b`, `a OR (b NOT c)`, `a && !b`,
// `field:*` (has the field), `*:*` (everything), `foo~1` (fuzzy), `^2` (boost). Terms side by side
// must all match unless `any` is set. Ranges, regexes, inner wildcards: query_parse_error.
export { searchDefinitions, type SearchDefinition, type FieldsDefinition, type FunctionDefinition } from './definition.ts';
export { fieldsSource, valuesAt } from './fields-source.ts';
export { functionSource, type IndexSandbox, type SandboxFactory } from './function-source.ts';
export { searchParams, searchRequest } from './http-params.ts';
export { parseQuery, type QueryNode } from './query-parser.ts';
export { attachDocs, queryTree } from './run-search.ts';
export { SearchIndex, type SearchIndexOptions, type SearchIndexStats } from './search-index.ts';
export { SearchIndexes, type SearchIndexesOptions } from './search-indexes.ts';
export { resolveAnalyzer, type Analyze, type FieldAnalyzers } from './analyzers.ts';
export { DEFAULT_LIMIT, MAX_LIMIT } from './paging.ts';
export type { DocumentIndexer, FetchDocs, FieldEntry, SearchQuery, SearchResult, SearchRow } from './types.ts';
