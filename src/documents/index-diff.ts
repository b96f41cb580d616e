// Which path-index entries an edit changes. A document's entries are the union of each top-level
// field's own (every path starts with its field), so fields equal before and after are skipped
// whole, and only the changed ones are walked: an update of one field touches that field's keys.

import type { IndexValue } from '../query/index.ts';
import type { JsonObject } from './types.ts';

type Emit = (path: string, value: IndexValue) => void;
type Entries = (body: JsonObject, emit: Emit) => void;

/** Deep equality of JSON values (key order aside). -0 and 0 differ here, which only costs a walk: they index alike. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return a !== 0 || Object.is(a, b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k) || !sameJson((a as JsonObject)[k], (b as JsonObject)[k])) return false;
  }
  return true;
}

/**
 * Sets `obj[k]` as an own, enumerable property, `__proto__` included, on a plain object: a
 * prototype-less one (as these were) is a dictionary-mode object in V8, two of them per update.
 */
function setField(obj: JsonObject | undefined, k: string, v: JsonObject[string]): JsonObject {
  const out = obj ?? {};
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
  return out;
}

/** The fields of `before` and `after` that differ, each side as its own object. */
function changedFields(before: JsonObject, after: JsonObject): [JsonObject, JsonObject] | undefined {
  let from: JsonObject | undefined;
  let to: JsonObject | undefined;
  for (const k of Object.keys(before)) {
    // Top-level `_` fields (attachments) are not indexed.
    if (k.charCodeAt(0) === 95 || (Object.hasOwn(after, k) && sameJson(before[k], after[k]))) continue;
    from = setField(from, k, before[k]!);
    if (Object.hasOwn(after, k)) to = setField(to, k, after[k]!);
  }
  for (const k of Object.keys(after)) {
    if (k.charCodeAt(0) === 95 || Object.hasOwn(before, k)) continue;
    to = setField(to, k, after[k]!);
  }
  if (!from && !to) return undefined;
  return [from ?? {}, to ?? {}];
}

/** Entries of the new fields held in one flat array (path, value, ...) up to this many, in a map past it. */
const FLAT_ENTRIES = 32;

/**
 * Calls `put` for each entry `after` has and `before` lacks, and `del` for the reverse. Either body
 * may be missing (a new, deleted or purged document).
 */
export function diffIndexEntries(
  entries: Entries,
  before: JsonObject | undefined,
  after: JsonObject | undefined,
  put: Emit,
  del: Emit,
): void {
  if (!before) {
    if (after) entries(after, put);
    return;
  }
  if (!after) {
    entries(before, del);
    return;
  }
  const changed = changedFields(before, after);
  if (!changed) return;
  const [from, to] = changed;
  // The new fields' entries, matched against the old ones: an update changes a few scalars, whose
  // entries a short array holds and a scan finds, without a map and a set per path. Values compare
  // with ===, as Map keys do (SameValueZero: NaN is no JSON value), which matches their encodings.
  const flat: Array<string | IndexValue> = [];
  let added: Map<string, Set<IndexValue>> | undefined;
  entries(to, (path, value) => {
    if (added === undefined && flat.length < 2 * FLAT_ENTRIES) {
      flat.push(path, value);
      return;
    }
    if (added === undefined) {
      added = new Map();
      for (let i = 0; i < flat.length; i += 2) addTo(added, flat[i] as string, flat[i + 1] as IndexValue);
    }
    addTo(added, path, value);
  });
  if (added !== undefined) {
    const more = added;
    entries(from, (path, value) => {
      if (!more.get(path)?.delete(value)) del(path, value);
    });
    for (const [path, values] of more) for (const value of values) put(path, value);
    return;
  }
  // A matched entry is struck out by a null path (paths are strings, the empty one included).
  entries(from, (path, value) => {
    for (let i = 0; i < flat.length; i += 2) {
      if (flat[i] === path && flat[i + 1] === value) {
        flat[i] = null;
        return;
      }
    }
    del(path, value);
  });
  for (let i = 0; i < flat.length; i += 2) if (flat[i] !== null) put(flat[i] as string, flat[i + 1] as IndexValue);
}

function addTo(added: Map<string, Set<IndexValue>>, path: string, value: IndexValue): void {
  let values = added.get(path);
  if (values === undefined) added.set(path, (values = new Set()));
  values.add(value);
}
