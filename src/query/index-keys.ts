// What the path index holds for one document: every JSON path with its value, and the key layout
// `<path>\0<encoded value>\0<docid>` the executor stores them under.

import { isPlainObject } from './collate.ts';
import { encodeIndexValue, encodeContainerMarker, INDEX_VALUE_SEPARATOR } from './index-value.ts';
import { encodePathSegment, ARRAY_SEGMENT, PATH_SEPARATOR } from './index-path.ts';

export {
  encodeIndexValue,
  decodeIndexValue,
  encodeContainerMarker,
  INDEX_VALUE_SEPARATOR,
} from './index-value.ts';
export type { ContainerKind } from './index-value.ts';
export { encodePathSegment, joinPath, fieldToPath, ARRAY } from './index-path.ts';

export type IndexEntry = [path: string, encodedValue: string];

/**
 * Every path of `doc` with its value, deduplicated; top-level fields starting with `_` (`_id`,
 * `_rev`, `_attachments`...) are left out. Arrays and objects appear as their container marker at
 * their own path, their content below it: `{"tags":["a"]}` gives `tags`=array marker, `tags/[]`="a".
 */
export function indexEntries(doc: Record<string, unknown>): IndexEntry[] {
  const out: IndexEntry[] = [];
  forEachIndexEntry(doc, (path, enc) => {
    out.push([path, enc]);
  });
  return out;
}

/**
 * The same entries as `indexEntries`, handed to `emit` one by one without building tuples: the
 * write path's hottest loop, so it avoids per-call closures and allocations.
 */
export function forEachIndexEntry(doc: Record<string, unknown>, emit: (path: string, enc: string) => void): void {
  const state: WalkState = { emit, seen: undefined };
  for (const k of Object.keys(doc)) {
    if (k.charCodeAt(0) === 95 /* _ */) continue;
    walk(state, encodePathSegment(k), doc[k], false);
  }
}

interface WalkState {
  emit: (path: string, enc: string) => void;
  /** Outside arrays every path occurs once (object keys are unique): only entries below an array need the duplicate check. */
  seen: Set<string> | undefined;
}

function add(state: WalkState, path: string, enc: string, inArray: boolean): void {
  if (inArray) {
    const key = path + INDEX_VALUE_SEPARATOR + enc;
    state.seen ??= new Set();
    if (state.seen.has(key)) return;
    state.seen.add(key);
  }
  state.emit(path, enc);
}

function walk(state: WalkState, path: string, v: unknown, inArray: boolean): void {
  if (Array.isArray(v)) {
    add(state, path, encodeContainerMarker('array'), inArray);
    const inner = path + PATH_SEPARATOR + ARRAY_SEGMENT;
    for (const item of v) walk(state, inner, item, true);
  } else if (isPlainObject(v)) {
    add(state, path, encodeContainerMarker('object'), inArray);
    for (const k of Object.keys(v)) walk(state, path + PATH_SEPARATOR + encodePathSegment(k), v[k], inArray);
  } else {
    add(state, path, encodeIndexValue(v), inArray);
  }
}

/** The stored key of one entry (without any outer storage prefix). */
export function makeIndexKey(path: string, encodedValue: string, docId: string): string {
  return path + INDEX_VALUE_SEPARATOR + encodedValue + INDEX_VALUE_SEPARATOR + docId;
}

/** Splits a stored key; the doc id is everything after the second separator. */
export function parseIndexKey(key: string): { path: string; encodedValue: string; docId: string } {
  const a = key.indexOf(INDEX_VALUE_SEPARATOR);
  const b = key.indexOf(INDEX_VALUE_SEPARATOR, a + 1);
  if (a < 0 || b < 0) throw new TypeError('not an index key');
  return { path: key.slice(0, a), encodedValue: key.slice(a + 1, b), docId: key.slice(b + 1) };
}
