// Validates a Mango selector and normalizes it the way CouchDB's mango_selector:normalize does:
// implicit $and/$eq made explicit, nested field objects flattened to dotted fields, negations pushed
// down to the conditions (De Morgan), operator arguments checked.

import { RefugeError } from '../errors/index.ts';
import { isPlainObject, type JsonType } from './collate.ts';
import { parseField } from './field-path.ts';
import { RE2JS } from 're2js';
import { MATCH_ALL, type Condition, type RegexMatcher, type Selector, type SubSelectorOp } from './selector-types.ts';

// Before negations are pushed down, $not and $nor still stand as nodes.
type Pre =
  | { kind: 'and' | 'or' | 'nor'; clauses: Pre[] }
  | { kind: 'not'; clause: Pre }
  | Extract<Selector, { kind: 'field' }>;

const JSON_TYPES: ReadonlySet<string> = new Set<JsonType>(['null', 'boolean', 'number', 'string', 'array', 'object']);
const UNSUPPORTED = new Set(['$where', '$geoWithin', '$geoIntersects', '$near', '$nearSphere', '$text']);

/**
 * Deepest nesting a selector may have. Normalizing, matching and comparing values all recurse: a
 * selector nested thousands of levels deep overflowed the stack (a 500 where a 400 belongs).
 */
const MAX_SELECTOR_DEPTH = 200;

/** Whether `v` nests deeper than `left` levels (the walk itself never goes deeper than that). */
function tooDeep(v: unknown, left: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (left === 0) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (tooDeep(x, left - 1)) return true;
  return false;
}

export function normalizeSelector(sel: unknown): Selector {
  if (!isPlainObject(sel)) throw new RefugeError('invalid_selector_json', `Selector must be a JSON object, not: ${show(sel)}`);
  if (Object.keys(sel).length === 0) return MATCH_ALL;
  if (tooDeep(sel, MAX_SELECTOR_DEPTH)) throw new RefugeError('invalid_selector_json', `Selector nests deeper than ${MAX_SELECTOR_DEPTH} levels`);
  const out = norm(parse(sel, ''));
  // CouchDB refuses a bare operator at the root ({"$gt": 1}); deeper ones apply to the value at hand.
  if (out.kind === 'field' && out.field === '') throw new RefugeError('invalid_selector', 'One or more conditions is missing a field name.');
  return out;
}

const MATCH_NONE: Selector = { kind: 'field', field: '_id', path: ['_id'], cond: { op: '$in', values: [] } };

/**
 * A `_find` selector. An empty `$or` matches (as in CouchDB's matcher, which `_changes` filters
 * and the rest use), but a lone one finds nothing in CouchDB's `_find`, whose planner scans an
 * empty range for it; beside other conditions it is dropped. The lone one becomes "no _id at all".
 */
export function normalizeFindSelector(sel: unknown): Selector {
  const out = normalizeSelector(sel);
  return out.kind === 'or' && out.clauses.length === 0 ? MATCH_NONE : out;
}

/**
 * A sub-selector ($elemMatch...) is normalized on its own, its fields relative to the element.
 * CouchDB pushes no negation down in it: every `$not` (and `$nor`) stays a node over the field
 * selectors below it, a field's own `{"b": {"$not": ...}}` too (CouchDB's norm_fields lifts it to
 * `{"$not": {"b": ...}}`), so an element without `b` matches it.
 */
function normalizeSub(sel: Record<string, unknown>): Selector {
  return normSub(parse(sel, ''));
}

function normSub(s: Pre): Selector {
  switch (s.kind) {
    case 'not':
      return { kind: 'not', clause: normSub(s.clause) };
    case 'nor':
      return { kind: 'not', clause: { kind: 'or', clauses: s.clauses.map(normSub) } };
    case 'and':
    case 'or':
      return { kind: s.kind, clauses: s.clauses.map(normSub) };
    case 'field':
      return s;
  }
}

function parse(value: unknown, field: string): Pre {
  if (!isPlainObject(value)) return leaf(field, { op: '$eq', value });
  const keys = Object.keys(value);
  if (keys.length === 0) return leaf(field, { op: '$eq', value });
  if (keys.length > 1) return { kind: 'and', clauses: keys.map((k) => parseEntry(k, value[k], field)) };
  return parseEntry(keys[0]!, value[keys[0]!], field);
}

function parseEntry(key: string, arg: unknown, field: string): Pre {
  if (!key.startsWith('$')) return parse(arg, field === '' ? key : `${field}.${key}`);
  switch (key) {
    case '$and':
    case '$or':
    case '$nor':
      if (!Array.isArray(arg)) throw badArg(key, arg);
      return { kind: key === '$and' ? 'and' : key === '$or' ? 'or' : 'nor', clauses: arg.map((a) => parse(a, field)) };
    case '$not':
      if (!isPlainObject(arg)) throw badArg(key, arg);
      return { kind: 'not', clause: parse(arg, field) };
    case '$eq':
    case '$ne':
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return leaf(field, { op: key, value: arg });
    case '$in':
    case '$nin':
    case '$all':
      if (!Array.isArray(arg)) throw badArg(key, arg);
      return leaf(field, { op: key, values: arg });
    case '$exists':
      if (typeof arg !== 'boolean') throw badArg(key, arg);
      return leaf(field, { op: key, value: arg });
    case '$type':
      // Any string, as CouchDB: a name that is no JSON type is matched by nothing, not refused.
      if (typeof arg !== 'string') throw badArg(key, arg);
      return leaf(field, { op: key, value: JSON_TYPES.has(arg) ? (arg as JsonType) : { unknown: arg } });
    case '$size':
      if (!Number.isInteger(arg) || (arg as number) < 0) throw badArg(key, arg);
      return leaf(field, { op: key, value: arg as number });
    case '$mod': {
      const ok = Array.isArray(arg) && arg.length === 2 && Number.isInteger(arg[0]) && Number.isInteger(arg[1]);
      if (!ok || arg[0] === 0) throw badArg(key, arg);
      return leaf(field, { op: key, divisor: arg[0] as number, remainder: arg[1] as number });
    }
    case '$regex':
      if (typeof arg !== 'string') throw badArg(key, arg);
      return leaf(field, { op: key, source: arg, regex: compileRegex(arg) });
    case '$beginsWith':
      // CouchDB takes a non-string operand for an unknown operator, not a bad argument.
      if (typeof arg !== 'string') throw new RefugeError('invalid_operator', `Invalid operator: ${key}`);
      return leaf(field, { op: key, prefix: arg });
    case '$elemMatch':
    case '$allMatch':
    case '$keyMapMatch':
      if (!isPlainObject(arg)) throw badArg(key, arg);
      return leaf(field, { op: key as SubSelectorOp, selector: normalizeSub(arg) });
    default:
      if (UNSUPPORTED.has(key)) throw new RefugeError('not_supported', `Unsupported operator: ${key}`);
      throw new RefugeError('invalid_operator', `Invalid operator: ${key}`);
  }
}

function leaf(field: string, cond: Condition): Pre {
  return { kind: 'field', field, path: field === '' ? [] : parseField(field), cond };
}

/**
 * CouchDB hands `$regex` to Erlang's PCRE. Here it is RE2 (re2js): the syntax Mango queries use,
 * inline flags like `(?i)` included, searched anywhere in the string as PCRE's re:run does, but in
 * linear time, so no pattern can stall the node (a query may come from any peer of the mesh).
 * Lookarounds and backreferences, which need backtracking, are refused as a bad argument.
 */
function compileRegex(source: string): RegexMatcher {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch {
    throw badArg('$regex', source);
  }
  return { test: (value) => re.matcher(value).find() };
}

function norm(s: Pre): Selector {
  switch (s.kind) {
    case 'not':
      return negate(s.clause);
    case 'nor':
      return { kind: 'and', clauses: s.clauses.map(negate) };
    case 'and':
    case 'or':
      return { kind: s.kind, clauses: s.clauses.map(norm) };
    case 'field':
      return s;
  }
}

// Note what this implies, as in CouchDB: {"$not": {"a": 1}} becomes {"a": {"$ne": 1}}, which (like
// every condition but $exists:false) needs the field to exist.
function negate(s: Pre): Selector {
  switch (s.kind) {
    case 'not':
      return norm(s.clause);
    case 'nor':
      return { kind: 'or', clauses: s.clauses.map(norm) };
    case 'and':
      return { kind: 'or', clauses: s.clauses.map(negate) };
    case 'or':
      return { kind: 'and', clauses: s.clauses.map(negate) };
    case 'field':
      return { ...s, cond: negateCondition(s.cond) };
  }
}

const OPPOSITE = { $lt: '$gte', $lte: '$gt', $gt: '$lte', $gte: '$lt', $eq: '$ne', $ne: '$eq' } as const;

function negateCondition(c: Condition): Condition {
  switch (c.op) {
    case '$lt':
    case '$lte':
    case '$gt':
    case '$gte':
    case '$eq':
    case '$ne':
      return { op: OPPOSITE[c.op], value: c.value };
    case '$in':
      return { op: '$nin', values: c.values };
    case '$nin':
      return { op: '$in', values: c.values };
    case '$exists':
      return { op: '$exists', value: !c.value };
    case '$not':
      return c.cond;
    default:
      return { op: '$not', cond: c };
  }
}

const badArg = (op: string, arg: unknown) => new RefugeError('bad_arg', `Bad argument for operator ${op}: ${show(arg)}`);

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
