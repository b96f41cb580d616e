// The query folder's face: Mango selectors, collation, the path index's key layout and the planner.
// Everything here is pure and portable (plain JSON in, plain data out).

export { collate, compareStrings, jsonType, type JsonType } from './collate.ts';
export { parseField, getField, type FieldLookup } from './field-path.ts';
export {
  encodeIndexValue,
  decodeIndexValue,
  encodeContainerMarker,
  INDEX_VALUE_SEPARATOR,
  encodePathSegment,
  joinPath,
  fieldToPath,
  ARRAY,
  isIndexedPath,
  MAX_INDEXED_PATH,
  indexEntries,
  forEachIndexEntry,
  forEachIndexValue,
  ARRAY_MARKER,
  OBJECT_MARKER,
  makeIndexKey,
  parseIndexKey,
  type ContainerKind,
  type IndexEntry,
  type IndexValue,
} from './index-keys.ts';
export {
  normalizeSelector,
  normalizeFindSelector,
  matchSelector,
  matchCondition,
  selectorFields,
  requiresField,
  isMatchAll,
  MATCH_ALL,
  type Selector,
  type Condition,
  type CompareOp,
  type SubSelectorOp,
} from './selector.ts';
export { nextPrefix, planFind, type FindPlan } from './plan.ts';
export { idBounds, withIdReads, type IdBounds } from './id-bounds.ts';
export { regexPrefix } from './regex-prefix.ts';
export { scanBounds, type IndexScan, type KeyBounds } from './scan-bounds.ts';
export { compareToSortKey, hasSortFields, parseSort, sortComparator, sortKeyOf, type SortField, type SortKey } from './sort.ts';
export { parseFields, projectFields } from './project.ts';
export { selectorJson } from './selector-json.ts';
