// Mango field names ("a.b", "a\.b") and how CouchDB walks them through a document
// (mango_util:parse_field, mango_doc:get_field/set_field).

import { RefugeError } from '../errors/index.ts';
import { isPlainObject } from './collate.ts';

/**
 * Splits a field name on dots not preceded by a backslash, then drops every backslash, exactly as
 * CouchDB does (so a key holding a literal backslash cannot be named, in CouchDB or here).
 */
export function parseField(field: string): string[] {
  if (!field.includes('\\')) {
    const parts = field.split('.');
    if (parts.includes('')) throw invalidField(field);
    return parts;
  }
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < field.length; i++) {
    if (field[i] === '.' && field[i - 1] !== '\\') {
      parts.push(field.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(field.slice(start));
  if (parts.includes('')) throw invalidField(field);
  return parts.map((p) => p.replaceAll('\\', ''));
}

const invalidField = (field: string) => new RefugeError('bad_request', `Invalid field name: ${field}`);

/** Segments CouchDB would read as an index into an array (Erlang list_to_integer accepts a sign). */
export function isArrayIndexSegment(segment: string): boolean {
  return /^[+-]?[0-9]+$/.test(segment);
}

export type FieldLookup = { found: true; value: unknown } | { found: false; why: 'not_found' | 'bad_path' };

const NOT_FOUND: FieldLookup = { found: false, why: 'not_found' };
const BAD_PATH: FieldLookup = { found: false, why: 'bad_path' };

/**
 * Objects are entered by key; arrays only by integer position (`a.0`): a plain name never reaches
 * into array elements. A missing key is `not_found`; walking into a scalar, or into an array with a
 * name or an out-of-range position, is `bad_path` (CouchDB tells the two apart for `$exists: false`).
 */
export function getField(value: unknown, path: readonly string[]): FieldLookup {
  let v = value;
  for (const seg of path) {
    if (isPlainObject(v)) {
      if (!Object.hasOwn(v, seg)) return NOT_FOUND;
      v = v[seg];
    } else if (Array.isArray(v)) {
      if (!isArrayIndexSegment(seg)) return BAD_PATH;
      const pos = Number(seg);
      if (!(pos >= 0 && pos < v.length)) return BAD_PATH;
      v = v[pos];
    } else {
      return BAD_PATH;
    }
  }
  return { found: true, value: v };
}

/**
 * Returns `target` with `value` stored at `path`, creating nested objects for missing keys
 * (mango_doc:set_field). Used to build projections, so it copies rather than mutates.
 */
export function setField(target: unknown, path: readonly string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [seg, ...rest] = path as [string, ...string[]];
  if (isPlainObject(target)) {
    const next = Object.hasOwn(target, seg) ? setField(target[seg], rest, value) : nest(rest, value);
    return { ...target, [seg]: next };
  }
  if (Array.isArray(target) && isArrayIndexSegment(seg)) {
    const pos = Number(seg);
    if (!(pos >= 0 && pos < target.length)) return target;
    const copy = target.slice();
    copy[pos] = setField(copy[pos], rest, value);
    return copy;
  }
  return target;
}

function nest(path: readonly string[], value: unknown): unknown {
  let v = value;
  for (let i = path.length - 1; i >= 0; i--) v = { [path[i]!]: v };
  return v;
}
