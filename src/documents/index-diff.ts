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

/** The fields of `before` and `after` that differ, each side as its own (prototype-less) object. */
function changedFields(before: JsonObject, after: JsonObject): [JsonObject, JsonObject] | undefined {
  let from: JsonObject | undefined;
  let to: JsonObject | undefined;
  for (const k of Object.keys(before)) {
    // Top-level `_` fields (attachments) are not indexed.
    if (k.charCodeAt(0) === 95 || (Object.hasOwn(after, k) && sameJson(before[k], after[k]))) continue;
    (from ??= Object.create(null) as JsonObject)[k] = before[k]!;
    if (Object.hasOwn(after, k)) (to ??= Object.create(null) as JsonObject)[k] = after[k]!;
  }
  for (const k of Object.keys(after)) {
    if (k.charCodeAt(0) === 95 || Object.hasOwn(before, k)) continue;
    (to ??= Object.create(null) as JsonObject)[k] = after[k]!;
  }
  if (!from && !to) return undefined;
  return [from ?? Object.create(null), to ?? Object.create(null)];
}

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
  // path -> values the new fields have there; values compare as Map keys, as their encodings do.
  const added = new Map<string, Set<IndexValue>>();
  entries(to, (path, value) => {
    let values = added.get(path);
    if (values === undefined) added.set(path, (values = new Set()));
    values.add(value);
  });
  entries(from, (path, value) => {
    if (!added.get(path)?.delete(value)) del(path, value);
  });
  for (const [path, values] of added) for (const value of values) put(path, value);
}
