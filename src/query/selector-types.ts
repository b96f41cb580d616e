// The normalized Mango selector: what `normalizeSelector` produces and everything else consumes.
// Negations are already pushed down to the conditions (as CouchDB's normalizer does), except in
// sub-selectors ($elemMatch & co.), where CouchDB keeps them as they are written.

import type { JsonType } from './collate.ts';

export type Selector =
  | { kind: 'and'; clauses: Selector[] }
  | { kind: 'or'; clauses: Selector[] }
  /**
   * Inside a sub-selector only: `$not` (or `$nor`) over whole selectors, which matches what its
   * clause does not. Not pushed down to conditions: there, `{"$not": {"b": 1}}` matches an element
   * without `b`, as in CouchDB (a pushed-down `{"b": {"$ne": 1}}` would need `b`).
   */
  | { kind: 'not'; clause: Selector }
  /**
   * A condition on one field. `field` is the Mango name ("a.b"), `path` its parsed keys; an empty
   * path means the value at hand (an element inside `$elemMatch`, say).
   */
  | { kind: 'field'; field: string; path: string[]; cond: Condition };

export type CompareOp = '$eq' | '$ne' | '$gt' | '$gte' | '$lt' | '$lte';
export type SubSelectorOp = '$elemMatch' | '$allMatch' | '$keyMapMatch';

export type Condition =
  | { op: CompareOp; value: unknown }
  | { op: '$in' | '$nin' | '$all'; values: unknown[] }
  | { op: '$exists'; value: boolean }
  /** `{ unknown }`: a type name that is no JSON type (CouchDB takes it; nothing has that type). */
  | { op: '$type'; value: JsonType | { unknown: string } }
  | { op: '$size'; value: number }
  | { op: '$mod'; divisor: number; remainder: number }
  | { op: '$regex'; source: string; regex: RegexMatcher }
  /** CouchDB 3.4's `$beginsWith`: a string value that starts with `prefix` (code points, case-sensitive). */
  | { op: '$beginsWith'; prefix: string }
  | { op: SubSelectorOp; selector: Selector }
  /** Only around conditions that have no direct opposite ($regex, $all, $elemMatch...). */
  | { op: '$not'; cond: Condition };

/** A compiled `$regex`: true when the pattern occurs somewhere in the string. */
export interface RegexMatcher {
  test(value: string): boolean;
}

export const MATCH_ALL: Selector = { kind: 'and', clauses: [] };
