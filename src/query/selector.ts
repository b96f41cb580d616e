// Mango selectors: normalize (validate) once, then match many documents.

import { parseField } from './field-path.ts';
import type { Selector } from './selector-types.ts';

export { normalizeSelector, normalizeFindSelector } from './selector-normalize.ts';
export { matchSelector, matchCondition } from './selector-match.ts';
export { MATCH_ALL } from './selector-types.ts';
export type { Selector, Condition, CompareOp, SubSelectorOp } from './selector-types.ts';

/** The distinct top-level field names a selector mentions (not those inside $elemMatch & co.). */
export function selectorFields(sel: Selector): string[] {
  const out = new Set<string>();
  const walk = (s: Selector) => {
    if (s.kind === 'field') {
      if (s.field !== '') out.add(s.field);
    } else if (s.kind === 'not') walk(s.clause);
    else s.clauses.forEach(walk);
  };
  walk(sel);
  return [...out];
}

/**
 * True when no document lacking `field` (a Mango field name) can match: CouchDB's
 * has_required_fields, which decides whether an index on the field holds every match. A condition
 * on a deeper path ("a.b") needs "a" too; every condition but `$exists: false` needs its field.
 */
export function requiresField(sel: Selector, field: string): boolean {
  const want = parseField(field);
  const needs = (s: Selector): boolean => {
    switch (s.kind) {
      case 'and':
        return s.clauses.some(needs);
      case 'or':
        return s.clauses.length > 0 && s.clauses.every(needs);
      case 'not':
        return false;
      case 'field':
        if (s.cond.op === '$exists' && !s.cond.value) return false;
        return s.path.length >= want.length && want.every((k, i) => s.path[i] === k);
    }
  };
  return needs(sel);
}

/** True when the selector matches every document. */
export function isMatchAll(sel: Selector): boolean {
  if (sel.kind === 'field' || sel.kind === 'not') return false;
  return sel.kind === 'and' ? sel.clauses.every(isMatchAll) : sel.clauses.length === 0;
}
