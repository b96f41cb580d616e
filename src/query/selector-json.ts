// A normalized selector written back as Mango JSON, in the explicit form CouchDB stores (an index's
// partial_filter_selector): `{"type": "x"}` becomes `{"type": {"$eq": "x"}}`.

import type { Condition, Selector } from './selector-types.ts';

export function selectorJson(sel: Selector): Record<string, unknown> {
  switch (sel.kind) {
    case 'and':
      return { $and: sel.clauses.map(selectorJson) };
    case 'or':
      return { $or: sel.clauses.map(selectorJson) };
    case 'not':
      return { $not: selectorJson(sel.clause) };
    case 'field':
      return { [sel.field]: conditionJson(sel.cond) };
  }
}

function conditionJson(c: Condition): Record<string, unknown> {
  switch (c.op) {
    case '$in':
    case '$nin':
    case '$all':
      return { [c.op]: c.values };
    case '$mod':
      return { $mod: [c.divisor, c.remainder] };
    case '$regex':
      return { $regex: c.source };
    case '$beginsWith':
      return { $beginsWith: c.prefix };
    case '$elemMatch':
    case '$allMatch':
    case '$keyMapMatch':
      return { [c.op]: selectorJson(c.selector) };
    case '$not':
      return { $not: conditionJson(c.cond) };
    case '$type':
      // A name that is no JSON type is kept as it was given.
      return { $type: typeof c.value === 'string' ? c.value : c.value.unknown };
    default:
      return { [c.op]: c.value };
  }
}
