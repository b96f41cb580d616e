// Key bounds of a Mango selector on a json index (keys = [field values...]): an equality prefix on
// the leading fields, then at most one range field. Bounds are on encoded keys (read them with
// ViewGroup.scanRows) and are a superset of the matches: the caller re-checks the full selector.
// String, array and object range bounds widen to their whole type: the selector matcher compares
// strings by code point while the index is in ICU-like order, and a superset must hold for both.
//
// For a prefix B (ARRAY tag + encoded elements) and an element encoding E, a key's next element
// equals E exactly when the key starts with B E and continues with a type byte or END (<= 08) —
// or with 0F, an identical level, for a different string. So, elements:
//   = E: [B E, B E 09)   >= E: [B E, ...)   > E: [B E 09, ...)   < E: [..., B E)   <= E: [..., B E 09)
// and every key with prefix B lies in [B, B 09).

import { nextPrefix, normalizeSelector, regexPrefix, type Selector } from '../query/index.ts';
import { encodeKey } from './key-codec.ts';
import { primaryPrefix } from './string-collation.ts';

export interface IndexRange {
  gte: string;
  lt: string;
}

const ARRAY = '\u0007';
const PAST = '\u0009';
const STRING_START = '\u0006';
const STRING_END = '\u0007';

interface FieldBounds {
  eq?: unknown;
  hasEq: boolean;
  lower?: { value: unknown; inclusive: boolean };
  upper?: { value: unknown; inclusive: boolean };
  /** A string prefix the value must start with (`$beginsWith`, or `$regex` anchored on literal text). */
  prefix?: string;
  /** The clauses that gave these bounds, as explain names them. */
  via: string[];
}

/**
 * The encoded key range of a json index on `fields` that holds every document the selector can
 * match, or undefined when the selector does not constrain the first field (the index would not
 * narrow anything beyond "has every field").
 */
export function rangeFor(selector: unknown, fields: readonly string[]): IndexRange | undefined {
  const sel = isNormalized(selector) ? selector : normalizeSelector(selector);
  const bounds = fields.map((f) => boundsOf(sel, f));
  if (!bounds[0]!.hasEq && !bounds[0]!.lower && !bounds[0]!.upper && bounds[0]!.prefix === undefined) return undefined;
  let prefix = ARRAY;
  for (const b of bounds) {
    if (b.hasEq) {
      prefix += encodeKey(b.eq);
      continue;
    }
    if (!b.lower && !b.upper && b.prefix !== undefined) return prefixRange(prefix, b.prefix);
    return {
      gte: b.lower ? lowerOf(prefix, b.lower.value, b.lower.inclusive) : prefix,
      lt: b.upper ? upperOf(prefix, b.upper.value, b.upper.inclusive) : prefix + PAST,
    };
  }
  return { gte: prefix, lt: prefix + PAST };
}

/** Every row of a json index (all keys are arrays). */
export const WHOLE_INDEX: IndexRange = { gte: ARRAY, lt: ARRAY + PAST };

function isNormalized(s: unknown): s is Selector {
  if (typeof s !== 'object' || s === null) return false;
  const o = s as { kind?: unknown; clauses?: unknown; cond?: unknown; path?: unknown };
  return ((o.kind === 'and' || o.kind === 'or') && Array.isArray(o.clauses)) || (o.kind === 'field' && Array.isArray(o.path) && typeof o.cond === 'object');
}

const widened = (v: unknown) => typeof v === 'string' || (typeof v === 'object' && v !== null);

/**
 * Strings starting with `text`: those whose primary weights start with its own (a superset: other
 * cases and accents too), or, where those are not known, every string.
 */
function prefixRange(prefix: string, text: string): IndexRange {
  const primary = primaryPrefix(text);
  const gte = prefix + STRING_START + (primary ?? '');
  const lt = primary === undefined ? undefined : nextPrefix(gte);
  return lt === undefined ? { gte: prefix + STRING_START, lt: prefix + STRING_END } : { gte, lt };
}

function lowerOf(prefix: string, v: unknown, inclusive: boolean): string {
  if (typeof v === 'string') return prefix + STRING_START;
  if (widened(v)) return prefix + (Array.isArray(v) ? ARRAY : '\u0008');
  return prefix + encodeKey(v) + (inclusive ? '' : PAST);
}

function upperOf(prefix: string, v: unknown, inclusive: boolean): string {
  if (typeof v === 'string') return prefix + STRING_END;
  if (widened(v)) return prefix + (Array.isArray(v) ? '\u0008' : PAST);
  return prefix + encodeKey(v) + (inclusive ? PAST : '');
}

/**
 * The view keys CouchDB's `_explain` reports for a json index on `fields` (mrargs `start_key` and
 * `end_key`, before a descending sort swaps them), composed as mango_idx_view:start_key/end_key
 * compose them over the leading fields the selector bounds (mango_cursor_view:composite_prefix):
 * each field's `$eq` value, or its lower bound in the start key and its upper bound in the end key;
 * a side with no bound ends there, the end key with `<MAX>` (CouchDB's ?MAX_JSON_OBJ as explain
 * writes it, also after the last field). A field bounded only by a string prefix ends the prefix,
 * as `$regex`, which CouchDB does not index, does there. The keys describe the read; the range
 * actually scanned is `rangeFor`'s.
 */
export function explainKeys(selector: Selector, fields: readonly string[]): { start: unknown[]; end: unknown[] } {
  const start: unknown[] = [];
  const end: unknown[] = [];
  let startOpen = true;
  let endOpen = true;
  for (const f of fields) {
    const b = boundsOf(selector, f);
    if (!b.hasEq && !b.lower && !b.upper) break;
    if (startOpen) {
      const low = b.hasEq ? { value: b.eq } : b.lower;
      if (low) start.push(low.value);
      else startOpen = false;
    }
    if (endOpen) {
      const high = b.hasEq ? { value: b.eq } : b.upper;
      if (high) end.push(high.value);
      else {
        end.push(MAX_KEY);
        endOpen = false;
      }
    }
    if (!startOpen && !endOpen) break;
  }
  if (endOpen) end.push(MAX_KEY);
  return { start, end };
}

/** How explain writes the key past every other (CouchDB's maybe_replace_max_json). */
const MAX_KEY = '<MAX>';

/** Whether the selector fixes `field` to one value: `$eq` in its top-level AND (CouchDB's is_constant_field). */
export function isConstantField(selector: Selector, field: string): boolean {
  return boundsOf(selector, field).hasEq;
}

/**
 * The clauses every match satisfies: the selector's top-level AND, with the ANDs nested in it
 * opened. Normalizing keeps a field's several operators as an AND of their own, so
 * `{"type": "post", "date": {"$gt": a, "$lt": b}}` is an AND holding an AND on `date`; its bounds
 * narrow the read as much as a lone `{"date": {"$gt": a, "$lt": b}}` does.
 */
function conjuncts(sel: Selector): Selector[] {
  return sel.kind === 'and' ? sel.clauses.flatMap(conjuncts) : [sel];
}

/** What the top-level AND of the selector (nested ANDs opened) says about one field. */
function boundsOf(sel: Selector, field: string): FieldBounds {
  const out: FieldBounds = { hasEq: false, via: [] };
  for (const c of conjuncts(sel)) {
    if (c.kind !== 'field' || c.field !== field) continue;
    const cond = c.cond;
    switch (cond.op) {
      case '$eq':
        out.eq = cond.value;
        out.hasEq = true;
        break;
      case '$gt':
      case '$gte':
        // Of two lower bounds either is a valid superset; keep the first (the matcher decides).
        out.lower ??= { value: cond.value, inclusive: cond.op === '$gte' };
        break;
      case '$lt':
      case '$lte':
        out.upper ??= { value: cond.value, inclusive: cond.op === '$lte' };
        break;
      case '$beginsWith':
      case '$regex': {
        const text = cond.op === '$regex' ? regexPrefix(cond.source) : cond.prefix;
        if (text === '') continue;
        out.prefix ??= text;
        break;
      }
      default:
        continue;
    }
    out.via.push(cond.op === '$regex' ? `$regex ${JSON.stringify(cond.source)}` : cond.op);
  }
  return out;
}

/**
 * How `rangeFor` narrows an index on `fields`, for explain: the fields it reads by equality, then
 * the one it reads a range of, each with the clauses that bound it.
 */
export function describeRange(selector: Selector, fields: readonly string[]): string {
  const parts: string[] = [];
  for (const f of fields) {
    const b = boundsOf(selector, f);
    if (b.via.length === 0) break;
    parts.push(`${b.hasEq ? 'eq' : 'range'} on ${f} from ${[...new Set(b.via)].join(', ')}`);
    if (!b.hasEq) break;
  }
  return parts.length === 0 ? 'the whole index' : parts.join(', then ');
}
