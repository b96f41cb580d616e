// Design documents as view groups: validation with CouchDB's reasons (couch_mrview's
// validate_ddoc_fields), the view definitions of one group, and its signature, the hash of exactly
// what shapes the index (map/reduce sources, language, views.lib, options), so editing a view
// rebuilds the group and editing anything else in the design document does not.
// Per-view `options` (e.g. `collation: "raw"`) are accepted and enter the signature, but rows are
// always in view (ICU-like) collation: raw collation is not implemented.

import { canonicalJson, type Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { md5Hex } from '#platform/md5';
import { builtinName } from './builtin-reduce.ts';

/** A Mango json index's map: the indexed fields (in order) and an optional partial filter. */
export interface MangoMap {
  fields: Array<[string, 'asc' | 'desc']>;
  partialFilter?: Record<string, unknown>;
}

export interface ViewDef {
  name: string;
  /** JavaScript source, or the fields of a Mango json index (`language: "query"`). */
  map: string | MangoMap;
  /** A builtin (`_count`, `_sum`, `_stats`, `_approx_count_distinct`) or JavaScript source. */
  reduce?: string;
  options: Record<string, unknown>;
}

export interface DesignDef {
  id: string;
  /** The id without `_design/`. */
  name: string;
  language: 'javascript' | 'query';
  /** Sorted by name; a view's position is its number in the index's keys. */
  views: ViewDef[];
  /** `views.lib`: modules for `require()` in map functions. */
  lib?: Record<string, unknown>;
  includeDesign: boolean;
  localSeq: boolean;
  signature: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalid = (reason: string) => new RefugeError('invalid_design_doc', reason);

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'object' ? 'object' : typeof v;
}

function expect(v: unknown, path: string, type: 'object' | 'string' | 'boolean'): void {
  if (v !== undefined && typeName(v) !== type) throw invalid(`\`${path}\` field should be ${type}`);
}

/** Validates the view-related fields of a design document and returns its view group definition. */
export function parseDesignDoc(ddoc: Doc): DesignDef {
  const id = ddoc._id;
  if (typeof id !== 'string' || !id.startsWith('_design/')) throw invalid('Design document ids must start with _design/');
  expect(ddoc.language, 'language', 'string');
  expect(ddoc.options, 'options', 'object');
  const options = (ddoc.options ?? {}) as Obj;
  expect(options.include_design, 'options.include_design', 'boolean');
  expect(options.local_seq, 'options.local_seq', 'boolean');
  expect(options.partitioned, 'options.partitioned', 'boolean');
  const language = (ddoc.language ?? 'javascript') as string;
  if (language !== 'javascript' && language !== 'query') throw invalid(`unknown_query_language: ${language}`);
  expect(ddoc.views, 'views', 'object');
  const raw = (ddoc.views ?? {}) as Obj;
  expect(raw.lib, 'views.lib', 'object');
  const views: ViewDef[] = [];
  for (const name of Object.keys(raw).sort()) {
    if (name === 'lib') continue;
    views.push(parseView(name, raw[name], language));
  }
  const lib = language === 'javascript' && isObj(raw.lib) ? raw.lib : undefined;
  const def = {
    id,
    name: id.slice('_design/'.length),
    language: language as DesignDef['language'],
    views,
    ...(lib ? { lib } : {}),
    includeDesign: options.include_design === true,
    localSeq: options.local_seq === true,
  };
  return { ...def, signature: signatureOf(def) };
}

function parseView(name: string, v: unknown, language: string): ViewDef {
  if (!isObj(v)) throw invalid(`\`views.${name}\` field should be object`);
  if (v.map === undefined) throw invalid(`View \`${name}\` must contain map function`);
  expect(v.reduce, `views.${name}.reduce`, 'string');
  expect(v.options, `views.${name}.options`, 'object');
  const view: ViewDef = { name, map: '', options: (v.options ?? {}) as Obj };
  if (language === 'query') {
    expect(v.map, `views.${name}.map`, 'object');
    view.map = parseMangoMap(name, v.map as Obj, view.options.def);
  } else {
    expect(v.map, `views.${name}.map`, 'string');
    view.map = v.map as string;
  }
  if (typeof v.reduce === 'string') {
    builtinName(v.reduce); // throws on an unknown builtin
    view.reduce = v.reduce;
  }
  return view;
}

/**
 * The fields of a Mango map in index order. It comes from `options.def.fields` (an array) when that
 * names the same fields: a JSON object's member order is not kept by JavaScript for integer-like
 * names (`{"b": "asc", "1": "asc"}` lists "1" first), and every reader of the index (its map, the
 * planner, the `_index` listing) must see one order.
 */
export function mangoFieldOrder(fields: Obj, def: unknown): string[] {
  const ordered = isObj(def) && Array.isArray(def.fields) ? def.fields.map((f) => (isObj(f) ? Object.keys(f)[0] : f)) : [];
  return ordered.length === Object.keys(fields).length && ordered.every((f) => typeof f === 'string' && Object.hasOwn(fields, f)) ? (ordered as string[]) : Object.keys(fields);
}

/**
 * An index defined before CouchDB 2.1 named its filter `selector`: CouchDB still applies it where
 * no `partial_filter_selector` says otherwise (mango_native_proc's get_index_partial_filter_selector).
 */
export function legacySelector(map: Obj): Obj | undefined {
  const partial = map.partial_filter_selector;
  if (isObj(partial) && Object.keys(partial).length > 0) return undefined;
  return isObj(map.selector) && Object.keys(map.selector).length > 0 ? map.selector : undefined;
}

function parseMangoMap(name: string, map: Obj, def: unknown): MangoMap {
  const fields = map.fields;
  if (!isObj(fields) || Object.keys(fields).length === 0) throw invalid(`\`views.${name}.map.fields\` field should be a non-empty object`);
  const out: MangoMap = { fields: [] };
  for (const [field, dir] of mangoFieldOrder(fields, def).map((f) => [f, fields[f]] as const)) {
    if (dir !== 'asc' && dir !== 'desc') throw invalid(`Invalid sort direction for field ${field}: ${JSON.stringify(dir)}`);
    out.fields.push([field, dir]);
  }
  if (map.partial_filter_selector !== undefined) {
    if (!isObj(map.partial_filter_selector)) throw invalid(`\`views.${name}.map.partial_filter_selector\` field should be object`);
    out.partialFilter = map.partial_filter_selector;
  }
  const legacy = legacySelector(map);
  if (legacy !== undefined) out.partialFilter = legacy;
  return out;
}

function signatureOf(def: Omit<DesignDef, 'signature'>): string {
  return md5Hex(
    canonicalJson({
      language: def.language,
      views: def.views.map((v) => [v.name, v.map, v.reduce ?? null, v.options]),
      lib: def.lib ?? null,
      include_design: def.includeDesign,
      local_seq: def.localSeq,
    }),
  );
}

/** The view of a group by name, or CouchDB's not_found `missing_named_view`. */
export function findView(def: DesignDef, viewName: string): { view: ViewDef; index: number } {
  const index = def.views.findIndex((v) => v.name === viewName);
  if (index < 0) throw new RefugeError('not_found', 'missing_named_view');
  return { view: def.views[index]!, index };
}
