// The fields form's document indexer: the values at the listed dotted paths (arrays flattened, nested
// objects walked to their scalars) of the documents the optional Mango selector matches.
import type { Doc } from '../documents/index.ts';
import { matchSelector, normalizeSelector, parseField } from '../query/index.ts';
import type { FieldsDefinition } from './definition.ts';
import type { DocumentIndexer, FieldEntry } from './types.ts';

function collect(value: unknown, path: readonly string[], at: number, out: unknown[]): void {
  if (Array.isArray(value)) {
    // An array anywhere on the path stands for each of its elements, so `authors.name` reaches
    // every author; a numeric segment still picks one position.
    if (at < path.length && /^\d+$/u.test(path[at]!)) {
      const v = value[Number(path[at])];
      if (v !== undefined) collect(v, path, at + 1, out);
      return;
    }
    for (const v of value) collect(v, path, at, out);
    return;
  }
  if (at === path.length) {
    if (value !== null && typeof value === 'object') {
      for (const v of Object.values(value)) collect(v, path, at, out);
    } else if (value !== null && value !== undefined) out.push(value);
    return;
  }
  if (value !== null && typeof value === 'object' && Object.hasOwn(value, path[at]!)) {
    collect((value as Record<string, unknown>)[path[at]!], path, at + 1, out);
  }
}

/** The values at a parsed path, flattened to scalars. */
export function valuesAt(doc: unknown, path: readonly string[]): unknown[] {
  const out: unknown[] = [];
  collect(doc, path, 0, out);
  return out;
}

export function fieldsSource(def: FieldsDefinition): DocumentIndexer {
  const selector = def.selector === undefined ? undefined : normalizeSelector(def.selector);
  const stored = new Set(def.store === true ? def.fields.map((f) => f.name) : def.store);
  const options = def.fields.map((f) => (stored.has(f.name) ? { store: true } : {}));
  // Stored names that are not indexed still come back in rows, as CouchDB's `store` suggests.
  const storeOnly = [...stored].filter((s) => !def.fields.some((f) => f.name === s));
  const storeOnlyPaths = storeOnly.map((s) => ({ name: s, path: parseField(s) }));
  return {
    entries(docs: readonly Doc[]) {
      return docs.map((doc) => {
        if (selector && !matchSelector(doc, selector)) return null;
        const out: FieldEntry[] = [];
        def.fields.forEach((f, i) => {
          for (const v of valuesAt(doc, f.path)) out.push([f.name, v, options[i]!]);
        });
        for (const f of storeOnlyPaths) for (const v of valuesAt(doc, f.path)) out.push([f.name, v, { store: true, index: false }]);
        return out;
      });
    },
  };
}
