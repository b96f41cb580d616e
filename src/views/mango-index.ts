// Mango json indexes as design documents, the shapes of CouchDB's `_index` API: a request becomes
// (or is found in) a `language: "query"` design document whose view maps the indexed fields, the
// design documents of a database list as `GET /db/_index` does, and an index is removed from its
// design document as `DELETE /db/_index/{ddoc}/json/{name}` does.
//
// Lead's flow for POST: id = indexDdocId(body); existing = get(id) or undefined;
// r = prepareIndex(body, existing); if (r.doc) put(r.doc); answer {result, id, name}.

import { canonicalJson, type Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { normalizeSelector, parseSort, selectorJson } from '../query/index.ts';
import { legacySelector, mangoFieldOrder } from './design-doc.ts';
import { couchIndexName } from './mango-index-name.ts';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (reason: string) => new RefugeError('bad_request', reason);

export interface IndexDefinition {
  /** Fields in index order with their direction (all the same, as CouchDB requires). */
  fields: Array<Record<string, 'asc' | 'desc'>>;
  partial_filter_selector?: Obj;
}

export interface ParsedIndexRequest {
  ddocId: string;
  name: string;
  def: IndexDefinition;
  /** The request's `index` as written: CouchDB keeps it as the view's `options.def`. */
  given: Obj;
  partitioned?: boolean;
}

/** The keys a `POST /db/_index` body may have (CouchDB's mango_opts); any other is refused. */
const INDEX_KEYS = new Set(['index', 'type', 'name', 'ddoc', 'w', 'partitioned']);
/** The keys of a json index's definition (mango_idx_view's opts); `selector` is a text index's. */
const DEF_KEYS = new Set(['fields', 'partial_filter_selector']);

const invalidKey = (key: string) => new RefugeError('invalid_key', `Invalid key ${key} for this request.`);
const shown = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/**
 * Validates a `POST /db/_index` body (json indexes only), with CouchDB's error names and in its
 * order (mango_opts:validate_idx_create, mango_idx:new, mango_idx_view:validate_new). Stricter in
 * one place: an index on no fields (`"fields": []`, which CouchDB takes and which holds every
 * document under the key `[]`) is refused.
 */
export function parseIndexRequest(body: unknown): ParsedIndexRequest {
  if (!isObj(body)) throw bad('Request body must be a JSON object');
  for (const key of Object.keys(body)) if (!INDEX_KEYS.has(key)) throw invalidKey(key);
  for (const key of ['type', 'name', 'ddoc'] as const) {
    if (body[key] !== undefined && typeof body[key] !== 'string') throw new RefugeError('invalid_string', `Invalid string: ${JSON.stringify(body[key])}`);
  }
  if (body.partitioned !== undefined && typeof body.partitioned !== 'boolean') throw bad(`Invalid partitioned value: ${JSON.stringify(body.partitioned)}`);
  if (body.w !== undefined && !(Number.isSafeInteger(body.w) && (body.w as number) > 0)) {
    throw new RefugeError('invalid_pos_integer', `${JSON.stringify(body.w)} is not an integer greater than zero`);
  }
  const index = body.index;
  if (index === undefined) throw new RefugeError('missing_required_key', 'Missing required key: index');
  // A text index wants a search service Refuge does not run for Mango (its full-text search lives in
  // design documents): answered as a CouchDB without one answers (mango_idx:get_idx_type).
  const type = body.type ?? 'json';
  if (type === 'text') throw new RefugeError('required index service unavailable', 'text');
  if (type !== 'json') throw new RefugeError('invalid_index', `Invalid type for index: ${shown(type)}`);
  if (!isObj(index)) throw new RefugeError('invalid_index', `JSON indexes must be an object, not: ${JSON.stringify(index)}`);
  if (index.fields === undefined) throw new RefugeError('missing_required_key', 'Missing required key: fields');
  // mango_sort's checks and errors: an array of names or {name: "asc"|"desc"}, one direction.
  const sort = parseSort(index.fields);
  if (sort.length === 0) throw bad('Index fields must be a non-empty array');
  for (const key of Object.keys(index)) if (!DEF_KEYS.has(key)) throw invalidKey(key);
  const def: IndexDefinition = { fields: sort.map((f) => ({ [f.field]: f.dir })) };
  if (index.partial_filter_selector !== undefined) {
    // Checked now, not at indexing time, and stored in CouchDB's normalized form.
    def.partial_filter_selector = selectorJson(normalizeSelector(index.partial_filter_selector));
  }
  // Unnamed, as CouchDB names it: one request makes one design document on either server.
  const naming = { ...(body as Obj & { type?: string; name?: string; ddoc?: string; w?: number }), index };
  const hash = body.ddoc === undefined || body.name === undefined ? couchIndexName(naming) : '';
  const ddoc = naming.ddoc ?? hash;
  const name = naming.name ?? hash;
  if (ddoc === '' || ddoc === '_design/') throw bad('Invalid ddoc name');
  if (name === '') throw bad('Invalid index name');
  const partitioned = body.partitioned as boolean | undefined;
  return { ddocId: ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`, name, def, given: index, ...(partitioned === undefined ? {} : { partitioned }) };
}

/** The design document id a `POST /db/_index` body goes to. */
export function indexDdocId(body: unknown): string {
  return parseIndexRequest(body).ddocId;
}

/**
 * The design document to write for an index request given the current one (if any): `doc` is
 * absent when the same index already exists (`result: "exists"`).
 */
export function prepareIndex(body: unknown, existing: Doc | undefined): { result: 'created' | 'exists'; id: string; name: string; doc?: Doc } {
  const req = parseIndexRequest(body);
  const fresh = !existing || existing._deleted === true;
  const base: Doc = fresh ? { _id: req.ddocId, language: 'query', views: {} } : structuredClone(existing);
  // CouchDB adds an index only to a design document of its own language (mango_util:check_lang).
  if (base.language !== 'query') {
    throw new RefugeError('invalid_ddoc_lang', `Existing design doc has an invalid language: ${JSON.stringify(base.language ?? false)}`);
  }
  // mango_idx:set_ddoc_partitioned: a new design document takes the request's `partitioned`; an
  // existing one must already say the same (a request without it matches only one without it).
  const current = isObj(base.options) ? base.options.partitioned : undefined;
  if (req.partitioned !== current) {
    if (!fresh) throw new RefugeError('invalid_partitioned_option', `Requested partitioned option does not match existing value on design document ${req.ddocId}`);
    base.options = { ...(isObj(base.options) ? base.options : {}), partitioned: req.partitioned };
  }
  const views = (isObj(base.views) ? base.views : {}) as Obj;
  // CouchDB's layout (mango_idx_view:make_view): `{}` for no partial filter, the request's own
  // definition in `options.def`.
  const view = {
    map: {
      fields: Object.fromEntries(req.def.fields.map((f) => Object.entries(f)[0]!)),
      partial_filter_selector: req.def.partial_filter_selector ?? {},
    },
    reduce: '_count',
    options: { def: req.given },
  };
  // The same index is there when the map defines it alike, however its design document was written
  // (CouchDB keeps the request's own `fields` in `options.def`, so a replicated one differs there).
  const same = indexDefinitionOf(views[req.name]);
  if (same && canonicalJson(same) === canonicalJson(req.def)) {
    return { result: 'exists', id: req.ddocId, name: req.name };
  }
  views[req.name] = view;
  base.views = views;
  base.language = 'query';
  return { result: 'created', id: req.ddocId, name: req.name, doc: base };
}

export interface IndexListing {
  ddoc: string | null;
  name: string;
  type: string;
  partitioned?: boolean;
  def: IndexDefinition | { fields: Array<Record<string, string>> };
}

/** `GET /db/_index`: the special `_all_docs` index, then every json index of the design documents. */
export function listIndexes(designDocs: readonly Doc[]): { total_rows: number; indexes: IndexListing[] } {
  const indexes: IndexListing[] = [{ ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } }];
  const sorted = [...designDocs].filter((d) => typeof d._id === 'string' && d.language === 'query').sort((a, b) => (a._id! < b._id! ? -1 : 1));
  for (const d of sorted) {
    const views = isObj(d.views) ? d.views : {};
    for (const name of Object.keys(views).sort()) {
      const def = indexDefinitionOf(views[name]);
      if (def) indexes.push({ ddoc: d._id!, name, type: 'json', partitioned: false, def });
    }
  }
  return { total_rows: indexes.length, indexes };
}

/**
 * A json index as CouchDB reads it from its design document (mango_idx_view:from_ddoc, to_json):
 * from the view's `map`, its fields in index order with their directions, and its partial filter
 * unless that is empty (CouchDB writes `{}` for none). Undefined for a view that defines no index
 * (CouchDB skips such a view). `options.def` only orders the fields: CouchDB keeps the request's
 * own spelling there (`["a"]`), not the definition's.
 */
export function indexDefinitionOf(view: unknown): IndexDefinition | undefined {
  if (!isObj(view) || !isObj(view.map) || !isObj(view.map.fields)) return undefined;
  const { fields, partial_filter_selector: partial } = view.map;
  const names = mangoFieldOrder(fields, isObj(view.options) ? view.options.def : undefined);
  if (names.length === 0 || !names.every((f) => fields[f] === 'asc' || fields[f] === 'desc')) return undefined;
  const def: IndexDefinition = { fields: names.map((f) => ({ [f]: fields[f] as 'asc' | 'desc' })) };
  if (isObj(partial) && Object.keys(partial).length > 0) def.partial_filter_selector = partial;
  const legacy = legacySelector(view.map);
  if (legacy !== undefined) def.partial_filter_selector = legacy;
  return def;
}

/**
 * `DELETE /db/_index/{ddoc}/json/{name}`: the design document without the index. CouchDB's
 * not_found "missing" when it has no such index.
 */
export function removeIndex(ddoc: Doc, name: string): Doc {
  const views = isObj(ddoc.views) ? { ...ddoc.views } : {};
  if (ddoc.language !== 'query' || !indexDefinitionOf(views[name])) throw new RefugeError('not_found', 'missing');
  delete views[name];
  return withViews(ddoc, views);
}

/** `_index/_bulk_delete` of a design document: it without any of its json indexes; not_found when it has none. */
export function removeAllIndexes(ddoc: Doc): Doc {
  const views = isObj(ddoc.views) ? ddoc.views : {};
  const names = ddoc.language === 'query' ? Object.keys(views).filter((n) => indexDefinitionOf(views[n])) : [];
  if (names.length === 0) throw new RefugeError('not_found', 'missing');
  return withViews(ddoc, Object.fromEntries(Object.entries(views).filter(([n]) => !names.includes(n))));
}

/**
 * The design document with these views. With the last one CouchDB drops `views` and `options`, and
 * deletes the design document only when nothing but its language is left (mango_idx_view:remove,
 * mango_idx:delete): what else it holds (a text index's `indexes`) keeps it.
 */
function withViews(ddoc: Doc, views: Obj): Doc {
  if (Object.keys(views).length > 0) return { ...ddoc, views };
  const { views: _views, options: _options, ...rest } = ddoc;
  if (Object.keys(rest).every((k) => k.startsWith('_') || k === 'language')) return { _id: ddoc._id!, ...(ddoc._rev ? { _rev: ddoc._rev } : {}), _deleted: true };
  return rest;
}
