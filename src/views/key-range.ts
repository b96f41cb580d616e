// The store key ranges a view query reads, from its key bounds. Row keys are
// P <enc key> 00 <docid> [00 <n>], encodings never contain 00 and ids never contain 00, so for a
// key K (encoding E) and id D:
//   rows with key K              = [P E 00, P E 01)
//   rows with key K and id >= D  = [P E 00 D, ...)        rows with key K and id <= D = [..., P E 00 D 01)
//   rows with key > K            = [P E 01, ...)          (a longer encoding continues above 01)
import { compareStrings } from '../query/index.ts';
import { encodeKey } from './key-codec.ts';
import type { KeyBound, QueryPlan } from './query-options.ts';
import { ROW_SEP } from './layout.ts';

export interface ScanRange {
  gte: string;
  lt: string;
}

const STEP = '\u0001';

function atOrAfter(p: string, b: KeyBound): string {
  return p + encodeKey(b.key) + (b.docid !== undefined ? ROW_SEP + b.docid : '');
}

function after(p: string, b: KeyBound): string {
  return p + encodeKey(b.key) + (b.docid !== undefined ? ROW_SEP + b.docid : '') + STEP;
}

/**
 * The ranges to read, in the order their rows are returned (each read descending when asked). A
 * range may be empty (`isEmpty`): it still tells where the rows would start, for `offset`.
 */
export function rangesFor(plan: QueryPlan, p: string, end: string): ScanRange[] {
  if (plan.keys) {
    const keys = plan.reduce || !plan.descending ? plan.keys : [...plan.keys].reverse();
    return keys.map((key) => single(plan, p, end, { key, docid: plan.startDocid }, { key, docid: plan.endDocid }));
  }
  return [single(plan, p, end, plan.start, plan.end)];
}

export const isEmpty = (r: ScanRange): boolean => compareStrings(r.gte, r.lt) >= 0;

function single(plan: QueryPlan, p: string, end: string, start: KeyBound | undefined, stop: KeyBound | undefined): ScanRange {
  let gte: string;
  let lt: string;
  if (!plan.descending) {
    gte = start ? atOrAfter(p, start) : p;
    lt = stop ? (plan.inclusiveEnd ? after(p, stop) : atOrAfter(p, stop)) : end;
  } else {
    // Descending reads from startkey down to endkey: the bounds swap ends.
    lt = start ? after(p, start) : end;
    gte = stop ? (plan.inclusiveEnd ? atOrAfter(p, stop) : after(p, stop)) : p;
  }
  return { gte, lt };
}

/** Every key of a view (its prefix range). */
export function viewRange(p: string): ScanRange {
  return { gte: p, lt: p.slice(0, -1) + String.fromCharCode(p.charCodeAt(p.length - 1) + 1) };
}
