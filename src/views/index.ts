// Views: CouchDB map/reduce views over design documents, incremental and persistent (view groups
// as indexers), view collation, CouchDB's query parameters, Mango json indexes as views.

export { compareKeys, encodeKey, groupKey } from './key-codec.ts';
export { compareViewStrings, stringSortKey } from './string-collation.ts';
export { builtinName, builtinReducer, SUM_ERROR, type BuiltinName, type Reducer, type ReduceRow } from './builtin-reduce.ts';
export { HyperLogLog } from './hll.ts';
export { parseDesignDoc, findView, type DesignDef, type ViewDef, type MangoMap } from './design-doc.ts';
export { checkPartition, planQuery, type ViewQueryOptions, type QueryPlan } from './query-options.ts';
export { ViewGroup, type ViewGroupOptions, type ViewListing, type ViewResult, type ViewRowsListing } from './view-group.ts';
export type { MapResult, ViewRow, FetchDocs, DocRef } from './map-query.ts';
export type { ReduceResult } from './reduce-query.ts';
export type { ViewSandbox, SandboxFactory } from './sandbox-face.ts';
export { parseViewParams, parseViewRequest } from './query-params.ts';
export { ViewIndexes, DEFAULT_VIEW_ROOT, type ViewIndexesOptions, type ViewIndexInfo } from './manager.ts';
export { dbFetcher } from './db-fetcher.ts';
export { viewCleanup, storedSignatures } from './cleanup.ts';
export { parseIndexRequest, indexDdocId, prepareIndex, listIndexes, removeIndex, removeAllIndexes, indexDefinitionOf, type IndexDefinition, type IndexListing } from './mango-index.ts';
export { describeRange, explainKeys, isConstantField, rangeFor, WHOLE_INDEX, type IndexRange } from './mango-range.ts';
