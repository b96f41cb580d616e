// The query planner: picks at most one path-index scan that every matching document is sure to
// appear in. The executor re-checks the whole selector on what the scan yields, so a scan only has
// to be a superset of the matches; it must never miss one.

import { collate, type JsonType } from './collate.ts';
import { isArrayIndexSegment, parseField } from './field-path.ts';
import { appendPath, elementsPath, isIndexedPath, joinPath } from './index-path.ts';
import type { IdBounds } from './id-bounds.ts';
import { regexPrefix } from './regex-prefix.ts';
import { isScalar, type IndexScan } from './scan-bounds.ts';
import type { Condition, Selector } from './selector-types.ts';
import type { SortField } from './sort.ts';

export interface FindPlan {
  /** null: read every document. */
  scan: IndexScan | null;
  /**
   * The scan yields documents already in the requested sort order (ties by doc id, in the sort's
   * direction). For a descending sort read the bounds backwards, each range in reverse.
   */
  sortedByIndex: boolean;
  reason: string;
  /** With no scan: the documents read are those whose ids these allow (id-bounds.ts), in id order. */
  ids?: IdBounds;
}

type Range = Extract<IndexScan, { kind: 'range' }>;

/**
 * A scan and the element it constrains: 0 for the document's own fields, else one number per
 * $elemMatch / $allMatch. Bounds merge only within one scope: two $elemMatch on one array may be
 * met by two different elements, so their bounds on `a/[]` must not be intersected.
 */
type Found = { scan: IndexScan; scope: number; via?: string };
/** The scope being collected, and the counter every scope of one plan draws from. */
type Scopes = { scope: number; counter: { next: number } };

export function planFind(selector: Selector, sort: readonly SortField[] = []): FindPlan {
  const found: Found[] = [];
  collect(selector, null, found, { scope: 0, counter: { next: 1 } });
  const candidates = mergeRanges(found);
  if (candidates.length === 0) return { scan: null, sortedByIndex: false, reason: 'full scan: no clause can use the path index' };
  let best = candidates[0]!;
  for (const c of candidates) if (rank(c.scan) < rank(best.scan)) best = c;

  const sortPath = sortableField(sort);
  const ordered = sortPath === null ? undefined : candidates.filter((c) => c.scan.path === sortPath && keepsOrder(c.scan));
  if (ordered !== undefined && ordered.length > 0) {
    let pick = ordered[0]!;
    for (const c of ordered) if (rank(c.scan) < rank(pick.scan)) pick = c;
    // An equality elsewhere usually beats reading a range in order: keep it and sort in memory.
    if (!(best.scan.kind === 'eq' && pick.scan.kind !== 'eq')) {
      return { scan: pick.scan, sortedByIndex: true, reason: `${describe(pick)}, in sort order` };
    }
  }
  return { scan: best.scan, sortedByIndex: false, reason: describe(best) };
}

/** The index path that can deliver `sort`: one field (optionally followed by `_id`). */
function sortableField(sort: readonly SortField[]): string | null {
  if (sort.length === 0 || sort.length > 2) return null;
  if (sort.length === 2 && sort[1]!.field !== '_id') return null;
  return topLevelPath(parseField(sort[0]!.field));
}

// Ordered means one entry per document (the sort path never holds "[]"; an $in that also reads
// elements does), read as ascending ranges that cannot reach the array/object markers: those are
// shared by every array (object), so arrays would come out by doc id rather than by content.
function keepsOrder(scan: IndexScan): boolean {
  switch (scan.kind) {
    case 'eq':
      return !scan.elements;
    case 'range': {
      const upper = scan.lt !== undefined ? scan.lt : scan.lte;
      return upper !== undefined && isScalar(upper);
    }
    case 'exists':
      return scan.type !== undefined && scan.type !== 'array' && scan.type !== 'object';
  }
}

/** Smaller is more selective. */
function rank(scan: IndexScan): number {
  switch (scan.kind) {
    case 'eq':
      return scan.values.length * (scan.elements ? 2 : 1);
    case 'range':
      // (Not `??`: null is a bound like any other.)
      return [scan.gt, scan.gte].some(defined) && [scan.lt, scan.lte].some(defined) ? 1e6 : 2e6;
    case 'exists':
      return scan.type === undefined ? 4e6 : 3e6;
  }
}

const defined = (v: unknown) => v !== undefined;

function describe({ scan, via }: Found): string {
  const from = via === undefined ? '' : ` from ${via}`;
  switch (scan.kind) {
    case 'eq':
      return `eq on ${scan.path} (${scan.values.length} value${scan.values.length === 1 ? '' : 's'}${scan.elements ? ', and its elements' : ''})`;
    case 'range':
      return `range on ${scan.path}${from}`;
    case 'exists':
      return `exists on ${scan.path}${scan.type ? ` (${scan.type})` : ''}${from}`;
  }
}

// Index paths are only usable where the Mango field reaches through objects: a segment like "0"
// may be an array position, which the index files under "[]"; fields starting with "_" at the top
// (_id, _rev...) are not indexed.
function topLevelPath(keys: readonly string[]): string | null {
  if (keys.length === 0 || keys[0]!.startsWith('_') || keys.some(isArrayIndexSegment)) return null;
  return joinPath(keys);
}

/** `prefix` is null at the document's top level, else the index path of the element being matched. */
function collect(sel: Selector, prefix: string | null, found: Found[], scopes: Scopes): void {
  if (sel.kind === 'and' || (sel.kind === 'or' && sel.clauses.length === 1)) {
    for (const c of sel.clauses) collect(c, prefix, found, scopes);
    return;
  }
  if (sel.kind !== 'field') return;
  let path: string | null;
  if (prefix === null) path = topLevelPath(sel.path);
  else path = sel.path.some(isArrayIndexSegment) ? null : appendPath(prefix, sel.path);
  if (path !== null) fromCondition(path, sel.cond, found, scopes);
}

function fromCondition(path: string, cond: Condition, found: Found[], scopes: Scopes): void {
  // A path the index leaves out (too long) answers nothing there: the clause is checked on each document.
  // Ranges and type scans name the clause they come from (explain's reason): several can make one.
  const via = cond.op === '$regex' ? `$regex ${JSON.stringify(cond.source)}` : cond.op;
  const out = { push: (scan: IndexScan) => void (isIndexedPath(scan.path) && found.push({ scan, scope: scopes.scope, via })) };
  const exists = (type?: JsonType): void => {
    out.push(type ? { kind: 'exists', path, type } : { kind: 'exists', path });
  };
  // The strings from the prefix up to the next prefix of its length, in code point order.
  const prefixRange = (prefix: string): void => {
    const upper = nextPrefix(prefix);
    if (prefix === '' || upper === undefined) return exists('string');
    out.push({ kind: 'range', path, gte: prefix, lt: upper });
  };
  switch (cond.op) {
    case '$eq':
      if (isScalar(cond.value)) out.push({ kind: 'eq', path, values: [cond.value], elements: false });
      else exists(Array.isArray(cond.value) ? 'array' : 'object');
      return;
    case '$in':
      // On an array value $in looks at the elements, so those entries are read as well.
      if (cond.values.every(isScalar)) out.push({ kind: 'eq', path, values: dedupe(cond.values), elements: true });
      else exists();
      return;
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      out.push({ kind: 'range', path, [cond.op.slice(1)]: cond.value });
      return;
    case '$exists':
      if (cond.value) exists();
      return;
    case '$type':
      // A type nothing has: an empty scan (an `$in` of no values).
      if (typeof cond.value !== 'string') out.push({ kind: 'eq', path, values: [], elements: false });
      else exists(cond.value);
      return;
    case '$regex':
      return prefixRange(regexPrefix(cond.source));
    case '$beginsWith':
      return prefixRange(cond.prefix);
    case '$mod':
      return exists('number');
    case '$keyMapMatch':
      return exists('object');
    case '$size':
      return exists('array');
    case '$all':
      exists('array');
      // Each scalar argument must be an element (the lone-array-argument case is not scalar).
      for (const v of cond.values) if (isScalar(v)) out.push({ kind: 'eq', path: elementsPath(path), values: [v], elements: false });
      return;
    case '$elemMatch':
    case '$allMatch':
      // $allMatch needs a non-empty array, so some element matches the sub-selector too.
      exists('array');
      collect(cond.selector, elementsPath(path), found, { scope: scopes.counter.next++, counter: scopes.counter });
      return;
    case '$ne':
    case '$nin':
    case '$not':
      // Every condition but $exists:false needs the field to be there.
      return exists();
  }
}

function dedupe(values: unknown[]): unknown[] {
  const sorted = [...values].sort(collate);
  return sorted.filter((v, i) => i === 0 || collate(sorted[i - 1], v) !== 0);
}

/** Folds the bounds on one path within one scope into a single range: the highest lower and the lowest upper. */
function mergeRanges(found: Found[]): Found[] {
  const ranges = new Map<string, Found & { scan: Range }>();
  const out: Found[] = [];
  for (const f of found) {
    const s = f.scan;
    if (s.kind !== 'range') {
      out.push(f);
      continue;
    }
    const key = `${f.scope} ${s.path}`;
    const prev = ranges.get(key);
    if (prev === undefined) {
      const copy = { ...f, scan: { ...s } };
      ranges.set(key, copy);
      out.push(copy);
      continue;
    }
    if (f.via !== undefined && prev.via !== f.via) prev.via = prev.via === undefined ? f.via : `${prev.via}, ${f.via}`;
    if (s.gt !== undefined || s.gte !== undefined) tighten(prev.scan, s, 'gt', 'gte', 1);
    if (s.lt !== undefined || s.lte !== undefined) tighten(prev.scan, s, 'lt', 'lte', -1);
  }
  return out;
}

// `sign` 1: keep the larger lower bound; -1: the smaller upper bound. On a tie the exclusive wins.
function tighten(into: Range, from: Range, strict: 'gt' | 'lt', loose: 'gte' | 'lte', sign: 1 | -1): void {
  const cur = into[strict] !== undefined ? { v: into[strict], strict: true } : into[loose] !== undefined ? { v: into[loose], strict: false } : null;
  const next = from[strict] !== undefined ? { v: from[strict], strict: true } : { v: from[loose], strict: false };
  const c = cur === null ? 1 : collate(next.v, cur.v) * sign;
  if (c > 0 || (c === 0 && next.strict && !cur!.strict)) {
    delete into[strict];
    delete into[loose];
    into[next.strict ? strict : loose] = next.v;
  }
}

/**
 * The least string above every string that starts with `prefix` (code point order): its last code
 * point that can grow, grown by one, with what follows it dropped; undefined when none can.
 */
export function nextPrefix(prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0)!);
  // A lone surrogate has no place in code point order that the index keeps: no range then.
  if (points.some((p) => p >= 0xd800 && p <= 0xdfff)) return undefined;
  for (let i = points.length - 1; i >= 0; i--) {
    if (points[i]! >= 0x10ffff) continue;
    // Surrogate code points never stand alone in an indexed string: step over them.
    const next = points[i]! + 1 === 0xd800 ? 0xe000 : points[i]! + 1;
    return String.fromCodePoint(...points.slice(0, i), next);
  }
  return undefined;
}
