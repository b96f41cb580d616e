// Mango selectors: normalize (validate) once, then match many documents.

import type { Selector } from './selector-types.ts';

export { normalizeSelector } from './selector-normalize.ts';
export { matchSelector, matchCondition } from './selector-match.ts';
export { MATCH_ALL } from './selector-types.ts';
export type { Selector, Condition, CompareOp, SubSelectorOp } from './selector-types.ts';

/** The distinct top-level field names a selector mentions (not those inside $elemMatch & co.). */
export function selectorFields(sel: Selector): string[] {
  const out = new Set<string>();
  const walk = (s: Selector) => {
    if (s.kind === 'field') {
      if (s.field !== '') out.add(s.field);
    } else s.clauses.forEach(walk);
  };
  walk(sel);
  return [...out];
}

/** True when the selector matches every document. */
export function isMatchAll(sel: Selector): boolean {
  if (sel.kind === 'field') return false;
  return sel.kind === 'and' ? sel.clauses.every(isMatchAll) : sel.clauses.length === 0;
}
