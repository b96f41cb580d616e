// Reads the search indexes a design document defines (`indexes`: function or fields form), checks
// them, and signs each by its definition so a changed index gets a fresh store and an unchanged one
// (even under another design document) is shared.
import { md5Hex } from '#platform/md5';
import { canonicalJson } from '../documents/canonical-json.ts';
import { RefugeError } from '../errors/index.ts';
import { normalizeSelector, parseField } from '../query/index.ts';
import { resolveAnalyzer, type FieldAnalyzers } from './analyzers.ts';

interface Common {
  name: string;
  analyzers: FieldAnalyzers;
  /** md5 of the canonical definition: the store key of the index. */
  signature: string;
}

export interface FunctionDefinition extends Common {
  kind: 'function';
  source: string;
}

export interface FieldsDefinition extends Common {
  kind: 'fields';
  /** Dotted paths as written (the field names queries use) with their parsed segments. */
  fields: Array<{ name: string; path: string[] }>;
  selector?: unknown;
  /** Which fields come back in `fields` of each row. */
  store: true | readonly string[];
}

export type SearchDefinition = FunctionDefinition | FieldsDefinition;

const bad = (where: string, reason: string): RefugeError => new RefugeError('invalid_design_doc', `${where}: ${reason}`);

function fieldName(value: unknown, where: string): string {
  const name = typeof value === 'string' ? value : (value as { name?: unknown } | null)?.name;
  if (typeof name !== 'string' || name === '') throw bad(where, 'each entry of fields must be a non-empty string or {"name": ...}');
  if (name.includes('\u001f')) throw bad(where, `field ${JSON.stringify(name)} holds a control character`);
  return name;
}

function parsePath(name: string, where: string): string[] {
  try {
    return parseField(name);
  } catch (err) {
    throw new RefugeError('invalid_design_doc', `${where}: invalid field ${JSON.stringify(name)}`, { cause: err });
  }
}

/** Design document members that hold functions and settings, never modules a `require` names. */
const NOT_MODULES = new Set(['_id', '_rev', '_revisions', '_attachments', '_conflicts', '_deleted', 'indexes', 'views', 'validate_doc_update', 'filters', 'updates', 'shows', 'lists', 'rewrites', 'options', 'language', 'autoupdate']);

/**
 * The modules an index function may `require()`: the design document members its `require('a/b')`
 * calls name (`a` here), or every member that may hold modules when a call names its path some
 * other way. Part of the signature, so editing a module it uses rebuilds the index and two design
 * documents with different modules get an index each, while editing a view leaves it alone.
 */
function modulesOf(source: string, ddoc: Record<string, unknown>): Record<string, unknown> {
  const calls = [...source.matchAll(/\brequire\s*\(\s*(?:(['"])([^'"\\]*)\1\s*\))?/g)];
  const named = calls.every((m) => m[2] !== undefined);
  const members = named ? new Set(calls.map((m) => m[2]!.split('/')[0]!)) : undefined;
  const modules: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(ddoc)) if (members ? members.has(k) : !NOT_MODULES.has(k)) modules[k] = v;
  return modules;
}

function parseOne(name: string, raw: unknown, where: string, ddoc: Record<string, unknown>): SearchDefinition {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw bad(where, 'an index must be an object');
  const def = raw as Record<string, unknown>;
  const analyzers = resolveAnalyzer(def.analyzer, where);
  const hasIndex = def.index !== undefined;
  if (hasIndex === (def.fields !== undefined)) throw bad(where, 'give either "index" (a function) or "fields" (a list of paths)');
  if (hasIndex) {
    if (typeof def.index !== 'string' || !/^\s*(\(|function\b|async\b)/u.test(def.index)) {
      throw bad(where, '"index" must be the source of a JavaScript function');
    }
    const requires = /\brequire\s*\(/.test(def.index);
    const signature = md5Hex(
      canonicalJson({ kind: 'function', index: def.index, analyzer: def.analyzer ?? 'standard', ...(requires ? { modules: modulesOf(def.index, ddoc) } : {}) }),
    );
    return { kind: 'function', name, source: def.index, analyzers, signature };
  }
  if (!Array.isArray(def.fields) || def.fields.length === 0) throw bad(where, '"fields" must be a non-empty array');
  const fields = def.fields.map((f) => {
    const n = fieldName(f, where);
    return { name: n, path: parsePath(n, where) };
  });
  if (def.selector !== undefined) {
    try {
      normalizeSelector(def.selector);
    } catch (err) {
      throw new RefugeError('invalid_design_doc', `${where}: invalid selector: ${(err as Error).message}`, { cause: err });
    }
  }
  let store: true | string[] = [];
  if (def.store === true) store = true;
  else if (Array.isArray(def.store) && def.store.every((s) => typeof s === 'string')) store = def.store as string[];
  else if (def.store !== undefined && def.store !== false) throw bad(where, '"store" must be true or a list of field names');
  if (store !== true) for (const s of store) parsePath(fieldName(s, where), where);
  const signature = md5Hex(
    canonicalJson({
      kind: 'fields',
      fields: fields.map((f) => f.name),
      selector: def.selector ?? null,
      store,
      analyzer: def.analyzer ?? 'standard',
    }),
  );
  return { kind: 'fields', name, fields, selector: def.selector, store, analyzers, signature };
}

/** The search indexes of a design document by name (empty when it defines none). */
export function searchDefinitions(ddoc: { _id?: unknown; indexes?: unknown; language?: unknown }): Map<string, SearchDefinition> {
  const out = new Map<string, SearchDefinition>();
  // A Mango design document's `indexes` are its text indexes (`_index` of type "text", which CouchDB
  // serves with Clouseau): stored as CouchDB stores them, so the database replicates whole, and
  // never search indexes here (as in a CouchDB without Clouseau, nothing lists or serves them).
  if (ddoc.indexes === undefined || ddoc.language === 'query') return out;
  const id = String(ddoc._id ?? '_design/?');
  if (!ddoc.indexes || typeof ddoc.indexes !== 'object' || Array.isArray(ddoc.indexes)) {
    throw new RefugeError('invalid_design_doc', `${id}: "indexes" must be an object`);
  }
  for (const [name, raw] of Object.entries(ddoc.indexes)) out.set(name, parseOne(name, raw, `${id} index ${name}`, ddoc as Record<string, unknown>));
  return out;
}
