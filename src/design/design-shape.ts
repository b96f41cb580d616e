// What a design document may hold, checked when it is written (CouchDB refuses a malformed one
// with 400 invalid_design_doc, and one whose functions do not compile with compilation_error).
import { RefugeError } from '../errors/index.ts';
import type { Doc } from '../documents/index.ts';
import { builtinName } from '../views/index.ts';

const FUNCTION_MAPS = ['filters', 'updates', 'shows', 'lists'] as const;

function invalid(reason: string): never {
  throw new RefugeError('invalid_design_doc', reason);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The JavaScript sources a design document holds, by where they sit (for compiling checks). */
export function designFunctionSources(ddoc: Doc): Array<{ where: string; source: string }> {
  const out: Array<{ where: string; source: string }> = [];
  const language = ddoc.language ?? 'javascript';
  if (typeof language !== 'string') invalid('`language` must be a string');
  if (ddoc.views !== undefined) {
    if (!isPlainObject(ddoc.views)) invalid('`views` is not an object');
    for (const [name, view] of Object.entries(ddoc.views)) {
      if (name === 'lib') continue;
      if (!isPlainObject(view)) invalid(`View ${name} must be an object`);
      if (language === 'query') continue; // Mango json indexes: maps are field lists, checked by views
      if (typeof view.map !== 'string') invalid(`View ${name} must have a map function`);
      out.push({ where: `views.${name}.map`, source: view.map });
      if (view.reduce !== undefined) {
        if (typeof view.reduce !== 'string') invalid(`View ${name} reduce must be a string`);
        // Built-ins match by prefix, as in CouchDB ("_sum\nare awesome" is _sum); builtinName throws for others.
        if (!view.reduce.startsWith('_')) out.push({ where: `views.${name}.reduce`, source: view.reduce });
        else builtinName(view.reduce);
      }
    }
  }
  for (const key of FUNCTION_MAPS) {
    const group = ddoc[key];
    if (group === undefined) continue;
    if (!isPlainObject(group)) invalid(`\`${key}\` is not an object`);
    for (const [name, src] of Object.entries(group)) {
      if (typeof src !== 'string') invalid(`${key}.${name} must be a string`);
      if (key === 'filters') out.push({ where: `filters.${name}`, source: src });
    }
  }
  if (ddoc.validate_doc_update !== undefined) {
    if (typeof ddoc.validate_doc_update !== 'string') invalid('`validate_doc_update` must be a string');
    out.push({ where: 'validate_doc_update', source: ddoc.validate_doc_update });
  }
  if (ddoc.indexes !== undefined && !isPlainObject(ddoc.indexes)) invalid('`indexes` is not an object');
  return out;
}
