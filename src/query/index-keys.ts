// What the path index holds for one document: every JSON path with its value, and the key layout
// `<path>\0<encoded value>\0<docid>` the executor stores them under.

import { isPlainObject } from './collate.ts';
import { encodeIndexValue, INDEX_VALUE_SEPARATOR } from './index-value.ts';
import { encodePathSegment, ARRAY_SEGMENT, isIndexedPath, PATH_SEPARATOR } from './index-path.ts';

export {
  encodeIndexValue,
  decodeIndexValue,
  encodeContainerMarker,
  INDEX_VALUE_SEPARATOR,
} from './index-value.ts';
export type { ContainerKind } from './index-value.ts';
export { encodePathSegment, joinPath, fieldToPath, ARRAY, isIndexedPath, MAX_INDEXED_PATH } from './index-path.ts';

export type IndexEntry = [path: string, encodedValue: string];

/** The value stored at an array's own path (all arrays alike): compared by identity, never mutated. */
export const ARRAY_MARKER: readonly never[] = Object.freeze([]);
/** The value stored at an object's own path (all objects alike). */
export const OBJECT_MARKER: Readonly<Record<string, never>> = Object.freeze({});

/** What the index holds at one path: a scalar, or the marker of the container there. */
export type IndexValue = null | boolean | number | string | typeof ARRAY_MARKER | typeof OBJECT_MARKER;

/**
 * Every path of `doc` with its value, deduplicated; top-level fields starting with `_` (`_id`,
 * `_rev`, `_attachments`...) are left out, and so are paths longer than MAX_INDEXED_PATH. Arrays and objects appear as their container marker at
 * their own path, their content below it: `{"tags":["a"]}` gives `tags`=array marker, `tags/[]`="a".
 */
export function indexEntries(doc: Record<string, unknown>): IndexEntry[] {
  const out: IndexEntry[] = [];
  forEachIndexEntry(doc, (path, enc) => {
    out.push([path, enc]);
  });
  return out;
}

/** The same entries as `indexEntries`, handed to `emit` one by one. */
export function forEachIndexEntry(doc: Record<string, unknown>, emit: (path: string, enc: string) => void): void {
  forEachIndexValue(doc, (path, value) => emit(path, encodeIndexValue(value)));
}

/**
 * The same entries with their values unencoded (encodeIndexValue gives their stored form): the write
 * path's hottest loop, so it encodes nothing and avoids per-call closures. A writer gathering many
 * documents encodes each distinct value once. Properties holding `undefined` are skipped, as JSON
 * drops them; the value must otherwise be JSON (checked before writes).
 */
export function forEachIndexValue(doc: Record<string, unknown>, emit: (path: string, value: IndexValue) => void): void {
  const state: WalkState = { emit, seen: undefined, few: undefined };
  for (const k of Object.keys(doc)) {
    const v = doc[k];
    if (k.charCodeAt(0) === 95 /* _ */ || v === undefined) continue;
    walk(state, encodePathSegment(k), v, false);
  }
}

interface WalkState {
  emit: (path: string, value: IndexValue) => void;
  /**
   * Outside arrays every path occurs once (object keys are unique): only entries below an array
   * need the duplicate check. Values are compared as Map keys do, which matches their encoding
   * (0 and -0 encode alike; markers are single objects).
   */
  seen: Map<string, Set<IndexValue>> | undefined;
  /**
   * The entries below arrays while they are few, as path, value, path, value...: most documents'
   * arrays are short, and a linear scan of them costs less than a Map and a Set for every
   * document. `===` matches the Map's comparison on JSON values (no NaN; 0 and -0 alike).
   */
  few: Array<string | IndexValue> | undefined;
}

/** Entries below arrays kept in `few` before they move to the Map. */
const FEW = 16;

function add(state: WalkState, path: string, value: IndexValue, inArray: boolean): void {
  if (inArray && !firstInArray(state, path, value)) return;
  state.emit(path, value);
}

/** True the first time this entry is met below an array (and remembers it). */
function firstInArray(state: WalkState, path: string, value: IndexValue): boolean {
  if (state.seen === undefined) {
    const few = (state.few ??= []);
    for (let i = 0; i < few.length; i += 2) if (few[i + 1] === value && few[i] === path) return false;
    if (few.length < 2 * FEW) {
      few.push(path, value);
      return true;
    }
    state.seen = new Map();
    for (let i = 0; i < few.length; i += 2) remember(state.seen, few[i] as string, few[i + 1] as IndexValue);
  }
  let values = state.seen.get(path);
  if (values === undefined) state.seen.set(path, (values = new Set()));
  else if (values.has(value)) return false;
  values.add(value);
  return true;
}

function remember(seen: Map<string, Set<IndexValue>>, path: string, value: IndexValue): void {
  const values = seen.get(path);
  if (values === undefined) seen.set(path, new Set([value]));
  else values.add(value);
}

function walk(state: WalkState, path: string, v: unknown, inArray: boolean): void {
  // Every path below is longer still (see MAX_INDEXED_PATH).
  if (!isIndexedPath(path)) return;
  if (Array.isArray(v)) {
    add(state, path, ARRAY_MARKER, inArray);
    const inner = path + PATH_SEPARATOR + ARRAY_SEGMENT;
    for (const item of v) walk(state, inner, item, true);
  } else if (isPlainObject(v)) {
    add(state, path, OBJECT_MARKER, inArray);
    for (const k of Object.keys(v)) {
      const x = v[k];
      if (x !== undefined) walk(state, path + PATH_SEPARATOR + encodePathSegment(k), x, inArray);
    }
  } else {
    add(state, path, v as IndexValue, inArray);
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
