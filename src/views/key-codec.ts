// View keys (any JSON) as order-preserving strings: encoded keys compared by code point (= UTF-8
// bytes, LevelDB's order) sort exactly as `compareKeys` does, and are equal exactly when the keys
// collate equal. Also the comparator itself, for sorting in memory, and group-level truncation.
//
// Layout: one type byte (null 02 < false 03 < true 04 < number 05 < string 06 < array 07 <
// object 08), then: numbers as IEEE-754 bits made ascending in 16-bit chunks (chars >= U+0080,
// trailing zero chunks dropped); strings as their sort key (string-collation.ts, which ends in 01 or
// in an identical level opened by 0F); arrays as their elements then END (01); objects as (key as a
// string, value) pairs then END. END and every type byte are below 0F and below every byte a number or
// sort key continues with, so a shorter array sorts first and no encoding contains U+0000 (the
// separator before a row's doc id).

import { RefugeError } from '../errors/index.ts';
import { compareStrings } from '../query/index.ts';
import { compareViewStrings, IDENTICAL_MARK, stringSortKey } from './string-collation.ts';

const NULL = '\u0002';
const FALSE = '\u0003';
const TRUE = '\u0004';
const NUMBER = '\u0005';
const STRING = '\u0006';
const ARRAY = '\u0007';
const OBJECT = '\u0008';
export const END = '\u0001';

/**
 * Deepest nesting a key may have: documents nest at most 1000 levels, and a query key nested
 * thousands deep overflowed the stack here (a 500 where a 400 belongs).
 */
const MAX_KEY_DEPTH = 1024;

/** Encodes a JSON key. Non-JSON values (undefined, NaN, functions) encode as null, as JSON would. */
export function encodeKey(v: unknown, depth = 0): string {
  switch (typeof v) {
    case 'string':
      return STRING + stringSortKey(v);
    case 'number':
      return Number.isFinite(v) ? NUMBER + encodeNumber(v) : NULL;
    case 'boolean':
      return v ? TRUE : FALSE;
    case 'object': {
      if (v === null) return NULL;
      if (depth >= MAX_KEY_DEPTH) throw new RefugeError('bad_request', `a view key nests deeper than ${MAX_KEY_DEPTH} levels`);
      let out: string;
      if (Array.isArray(v)) {
        out = ARRAY;
        for (const e of v) out += encodeKey(e, depth + 1);
      } else {
        out = OBJECT;
        for (const [k, e] of Object.entries(v)) {
          // JSON drops members that have no JSON value; so does the key.
          if (e !== undefined && typeof e !== 'function' && typeof e !== 'symbol') out += STRING + stringSortKey(k) + encodeKey(e, depth + 1);
        }
      }
      return out + END;
    }
    default:
      return NULL;
  }
}

const view = new DataView(new ArrayBuffer(8));

// Sign bit set for positives, all bits flipped for negatives: the 64 bits then ascend with the
// number. -0 is 0 (they collate equal).
function encodeNumber(n: number): string {
  view.setFloat64(0, n === 0 ? 0 : n);
  const negative = view.getUint8(0) >= 0x80;
  const chunks = [view.getUint16(0), view.getUint16(2), view.getUint16(4), view.getUint16(6)];
  let out = '';
  let last = 3;
  if (negative) for (let i = 0; i < 4; i++) chunks[i] = ~chunks[i]! & 0xffff;
  else chunks[0] = chunks[0]! | 0x8000;
  while (last > 0 && chunks[last] === 0) last--;
  for (let i = 0; i <= last; i++) out += chunkChar(chunks[i]!);
  return out;
}

// 0..FFFF onto code points from U+0080 up, skipping the surrogate block.
const chunkChar = (v: number): string => String.fromCodePoint(v + 0x80 < 0xd800 ? v + 0x80 : v + 0x880);

/** JSON type rank in view collation. */
function rank(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return 5;
    case 'number':
      return Number.isFinite(v) ? 4 : 1;
    case 'boolean':
      return v ? 3 : 2;
    case 'object':
      return v === null ? 1 : Array.isArray(v) ? 6 : 7;
    default:
      return 1;
  }
}

/** CouchDB view collation: null < false < true < numbers < strings < arrays < objects. */
export function compareKeys(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 4:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 5:
      return compareViewStrings(a as string, b as string);
    case 6: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareKeys(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case 7: {
      const x = Object.entries(a as object);
      const y = Object.entries(b as object);
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const k = compareViewStrings(x[i]![0], y[i]![0]);
        if (k !== 0) return k;
        const c = compareKeys(x[i]![1], y[i]![1]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    default:
      return 0;
  }
}

/** Compares two encoded keys (code point order, which is LevelDB's byte order). */
export const compareEncoded = compareStrings;

/** The key a row groups under at `level` (arrays truncated; other keys as they are). */
export function groupKey(key: unknown, level: number | 'exact'): unknown {
  if (level === 'exact' || !Array.isArray(key) || key.length <= level) return key;
  return key.slice(0, level);
}

/**
 * The encoding of `groupKey(key, level)` computed from the key's encoding alone (no decode), so
 * rows can be grouped while they stream.
 */
export function groupEncoded(enc: string, level: number | 'exact'): string {
  if (level === 'exact' || enc[0] !== ARRAY) return enc;
  let i = 1;
  for (let n = 0; n < level; n++) {
    if (enc[i] === END) return enc;
    i = skipElement(enc, i);
  }
  return enc[i] === END ? enc : enc.slice(0, i) + END;
}

function skipElement(enc: string, i: number): number {
  switch (enc[i]) {
    case NULL:
    case FALSE:
    case TRUE:
      return i + 1;
    case NUMBER: {
      let j = i + 1;
      while (j < enc.length && enc.charCodeAt(j) >= 0x80) j++;
      return j;
    }
    case STRING:
      return skipSortKey(enc, i + 1);
    case ARRAY: {
      let j = i + 1;
      while (enc[j] !== END) j = skipElement(enc, j);
      return j + 1;
    }
    case OBJECT: {
      let j = i + 1;
      while (enc[j] !== END) j = skipElement(enc, skipElement(enc, j));
      return j + 1;
    }
    default:
      throw new RefugeError('internal', 'corrupt view key encoding');
  }
}

// A sort key has three levels each closed by 01, then possibly the identical level (0F ... 01).
function skipSortKey(enc: string, i: number): number {
  let j = i;
  for (let n = 0; n < 3; n++) j = enc.indexOf(END, j) + 1;
  if (enc[j] === IDENTICAL_MARK) j = enc.indexOf(END, j + 1) + 1;
  return j;
}
