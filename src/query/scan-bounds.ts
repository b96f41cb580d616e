// Index scans and the exact key ranges they read in the path index, whose keys are
// `<path>\0<encoded value>\0<docid>` compared as UTF-8 bytes.

import { compareStrings, typeRank, type JsonType } from './collate.ts';
import { elementsPath } from './index-path.ts';
import { encodeIndexValue, INDEX_VALUE_SEPARATOR as SEP, TYPE_CHARS } from './index-value.ts';

export type IndexScan =
  /** Field equal to one of `values` (scalars, distinct, ascending); `elements` also reads `path/[]`. */
  | { kind: 'eq'; path: string; values: unknown[]; elements: boolean }
  | { kind: 'range'; path: string; gt?: unknown; gte?: unknown; lt?: unknown; lte?: unknown }
  /** Field present (with a value of `type`, when given). */
  | { kind: 'exists'; path: string; type?: JsonType };

/** A key range without any outer storage prefix; the executor prepends its own to both ends. */
export interface KeyBounds {
  gte: string;
  lt: string;
}

// Why these bounds are exact: no path or encoded value contains 0x00, and every encoded value's
// bytes are followed by 0x00 then the doc id. So for a value's encoding E:
//   keys holding exactly E      = [P E 00, P E 01)
//   keys holding a value  > E   = [P E 01, ...)   (a longer encoding continues with a byte >= 01)
//   keys holding a value  < E   = [..., P E 00)
// where P = path 00. Every key of the path lies in [path 00, path 01).
const STEP = '\u0001';

/** The key ranges to read, in ascending key order; may be empty (nothing can match). */
export function scanBounds(scan: IndexScan): KeyBounds[] {
  const p = scan.path + SEP;
  switch (scan.kind) {
    case 'eq': {
      const paths = scan.elements ? [p, elementsPath(scan.path) + SEP] : [p];
      const encs = [...new Set(scan.values.map(encodeIndexValue))];
      const out = paths.flatMap((pp) => encs.map((e) => ({ gte: pp + e + SEP, lt: pp + e + STEP })));
      return out.sort((a, b) => compareStrings(a.gte, b.gte));
    }
    case 'range': {
      const gte = lowerBound(p, scan);
      const lt = upperBound(p, scan);
      return compareStrings(gte, lt) < 0 ? [{ gte, lt }] : [];
    }
    case 'exists': {
      if (scan.type === undefined) return [{ gte: p, lt: scan.path + STEP }];
      const chars = TYPE_CHARS[scan.type];
      const last = chars[chars.length - 1]!;
      return [{ gte: p + chars[0], lt: p + String.fromCharCode(last.charCodeAt(0) + 1) }];
    }
  }
}

// Arrays and objects are indexed only as a marker shared by all of them, so a bound that is an
// array or object keeps the whole marker inside the range (the executor re-checks the selector).
function lowerBound(p: string, scan: Extract<IndexScan, { kind: 'range' }>): string {
  if (scan.gte !== undefined) return p + encodeIndexValue(scan.gte) + SEP;
  if (scan.gt !== undefined) return p + encodeIndexValue(scan.gt) + (isContainer(scan.gt) ? SEP : STEP);
  return p;
}

function upperBound(p: string, scan: Extract<IndexScan, { kind: 'range' }>): string {
  if (scan.lt !== undefined) return p + encodeIndexValue(scan.lt) + (isContainer(scan.lt) ? STEP : SEP);
  if (scan.lte !== undefined) return p + encodeIndexValue(scan.lte) + STEP;
  return p.slice(0, -1) + STEP;
}

export const isContainer = (v: unknown) => typeRank(v) >= 6;
export const isScalar = (v: unknown) => typeRank(v) < 6;
