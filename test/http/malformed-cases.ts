// Malformed request bodies and parameters for the robustness suite: bad JSON on every JSON endpoint,
// wrong types for every parameter, malformed documents, ids, revs, selectors. All must be 4xx.

import type { RawRequest } from './raw-http.ts';

export interface Case extends RawRequest {
  label: string;
  /** Sent as raw bytes on a socket instead (requests node:http refuses to send). */
  socket?: string;
}

const HEX = (c: string) => c.repeat(32);
const REV = '1-' + HEX('a');
export const enc = encodeURIComponent;
export const j = (v: unknown) => JSON.stringify(v);

/** Endpoints that read a JSON body, with the method they take. */
export const JSON_ENDPOINTS: Array<[string, string]> = [
  ['POST', '/data/_bulk_docs'],
  ['POST', '/data/_all_docs'],
  ['POST', '/data/_bulk_get'],
  ['POST', '/data/_revs_diff'],
  ['POST', '/data/_missing_revs'],
  ['POST', '/data/_find'],
  ['POST', '/data/_explain'],
  ['POST', '/data/_index'],
  ['POST', '/data/_changes?filter=_selector'],
  ['POST', '/data/_changes'],
  ['POST', '/data'],
  ['PUT', '/data/newdoc'],
  ['PUT', '/data/d01'],
  ['PUT', '/data/_local/newlocal'],
  ['PUT', '/data/_design/newddoc'],
  ['PUT', '/data/_revs_limit'],
  ['POST', '/_session'],
  ['POST', '/_replicate'],
];

const BAD_JSON: Array<string | Buffer> = [
  '{',
  '}',
  '{"a":}',
  '[1,2',
  'nul',
  'tru',
  '"unterminated',
  '{"a":1}}',
  '{"a":1,}',
  "{'a':1}",
  'NaN',
  '{"a":01}',
  '\u0000',
  '{"a":1}\u0000',
  Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d]), // invalid UTF-8 byte in a key
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), // overlong encoding
  Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), // encoded surrogate
];

/** Valid JSON of the wrong shape for endpoints that need an object. */
const NOT_OBJECTS = ['1', '"s"', 'true', 'null', '[]', '[{}]'];
const OBJECT_ENDPOINTS = JSON_ENDPOINTS.filter(([, p]) => !p.includes('_revs_limit'));

/** Documents that are malformed by themselves (CouchDB refuses the whole _bulk_docs for them). */
export const BAD_DOCS: unknown[] = [
  1,
  's',
  null,
  [],
  true,
  { _id: 1 },
  { _id: '' },
  { _id: '_bad' },
  { _id: '_design/' },
  { _id: '_local/' },
  { _id: 'x\u0000y' },
  { _id: '\ud800' },
  { _id: 'x', _rev: 'garbage' },
  { _id: 'x', _rev: 5 },
  { _id: 'x', _rev: '-1-' + HEX('a') },
  { _id: 'x', _deleted: 'yes' },
  { _id: 'x', _deleted: 1 },
  { _id: 'x', _revisions: 'g' },
  { _id: 'x', _revisions: { start: 'a', ids: [] } },
  { _id: 'x', _revisions: { start: 1, ids: ['z"z'] } },
  // 32 characters are hex, as CouchDB reads them (couch_doc:parse_revid), or refused.
  { _id: 'x', _rev: '1-' + HEX('z') },
  { _id: 'x', _revisions: { start: 2, ids: [HEX('z'), 'bbb'] } },
  { _id: 'x', _revisions: { start: 1, ids: ['a', 'b'] } },
  { _id: 'x', _revisions: { start: 0, ids: ['a'] } },
  { _id: 'x', _revisions: null, _foo: 1 },
  { _id: 'x', _foo: 1 },
  { _id: 'x', _attachments: 'x' },
  { _id: 'x', _attachments: [] },
  { _id: 'x', _id2: 1 },
  { _id: 'x', _: 1 },
];

const BAD_BOOLS = ['yes', '1', '', 'truth', 'null'];
const BAD_INTS = ['-1', 'a', '1.5', '1e3', '', '0x10', '99999999999999999999'];
// Keys that are not JSON. JSON that is no string is taken, as CouchDB takes it (all-docs-foreign-keys.test.ts).
const BAD_KEYS = ['abc', '"unterminated', '{"a":', 'nul'];

export function badJsonCases(): Case[] {
  const out: Case[] = [];
  for (const [method, path] of JSON_ENDPOINTS) {
    for (const body of BAD_JSON) out.push({ label: `bad JSON ${j(body.toString())} ${method} ${path}`, method, path, body });
  }
  for (const [method, path] of OBJECT_ENDPOINTS) {
    for (const body of NOT_OBJECTS) out.push({ label: `non-object ${body} ${method} ${path}`, method, path, body });
  }
  return out;
}

export function bulkDocsCases(): Case[] {
  const out: Case[] = [];
  const post = (label: string, body: unknown): Case => ({ label, method: 'POST', path: '/data/_bulk_docs', body: j(body) });
  for (const docs of [undefined, null, 1, 's', {}, true]) out.push(post(`_bulk_docs docs=${j(docs)}`, { docs }));
  for (const newEdits of ['false', 'true', 0, 1, null, [], {}]) {
    out.push(post(`_bulk_docs new_edits=${j(newEdits)}`, { docs: [{ _id: 'sneaky', _rev: REV }], new_edits: newEdits }));
  }
  for (const doc of BAD_DOCS) {
    out.push(post(`_bulk_docs bad doc ${j(doc)}`, { docs: [doc] }));
    // A valid document next to a malformed one is not written either.
    out.push(post(`_bulk_docs valid + bad doc ${j(doc)}`, { docs: [{ _id: 'sneaky' }, doc] }));
    out.push(post(`_bulk_docs new_edits:false bad doc ${j(doc)}`, { docs: [{ _id: 'sneaky2', _rev: REV }, doc], new_edits: false }));
  }
  return out;
}

export function docCases(): Case[] {
  const out: Case[] = [];
  for (const doc of BAD_DOCS.filter((d) => d !== null && typeof d === 'object' && !Array.isArray(d))) {
    const body = { ...(doc as object) } as Record<string, unknown>;
    delete body._id;
    if (Object.keys(body).length === 0) continue;
    out.push({ label: `PUT new doc ${j(body)}`, method: 'PUT', path: '/data/newdoc', body: j(body) });
    out.push({ label: `POST doc ${j(doc)}`, method: 'POST', path: '/data', body: j(doc) });
  }
  out.push({ label: 'PUT existing without rev', method: 'PUT', path: '/data/d01', body: j({ v: 'x' }) });
  out.push({ label: 'PUT existing stale rev', method: 'PUT', path: '/data/d01', body: j({ _rev: REV, v: 'x' }) });
  out.push({ label: 'PUT __proto__ member', method: 'PUT', path: '/data/newdoc', body: '{"__proto__":{"polluted":1}}' });
  // Past the nesting limit, within the 4 KiB body limit this suite runs with.
  const deep = '['.repeat(2000) + ']'.repeat(2000);
  out.push({ label: 'PUT body nested 2000 levels deep', method: 'PUT', path: '/data/newdoc', body: `{"v":${deep}}` });
  out.push({ label: 'PUT rev query/body disagree', method: 'PUT', path: `/data/d01?rev=${REV}`, body: j({ _rev: '2-' + HEX('b') }) });
  out.push({ label: 'PUT If-Match disagrees', method: 'PUT', path: '/data/d01', body: j({ _rev: REV }), headers: { 'if-match': `"2-${HEX('b')}"` } });
  // A document's flags (new_edits, revs, conflicts...) are no error in any spelling: CouchDB's
  // parse_doc_query takes the exact word and ignores any other (couchdb-api.test.ts).
  for (const rev of ['garbage', '1-xyz', '', '1-', 'abc-' + HEX('a'), '1-' + HEX('z')]) {
    out.push({ label: `GET rev=${rev}`, method: 'GET', path: `/data/d01?rev=${enc(rev)}` });
    out.push({ label: `DELETE rev=${rev}`, method: 'DELETE', path: `/data/d01?rev=${enc(rev)}` });
    out.push({ label: `PUT rev=${rev}`, method: 'PUT', path: `/data/d01?rev=${enc(rev)}`, body: '{}' });
    out.push({ label: `DELETE If-Match ${rev}`, method: 'DELETE', path: '/data/d01', headers: { 'if-match': `"${rev}"` } });
  }
  out.push({ label: 'DELETE without rev', method: 'DELETE', path: '/data/d01' });
  out.push({ label: 'DELETE stale rev', method: 'DELETE', path: `/data/d01?rev=${REV}` });
  out.push({ label: 'DELETE missing doc', method: 'DELETE', path: `/data/nope?rev=${REV}` });
  for (const v of ['nope', '[1]', '{}', '"x"', '["garbage"]', 'null', '1', '[', `["1-${HEX('z')}"]`]) {
    out.push({ label: `GET open_revs=${v}`, method: 'GET', path: `/data/d01?open_revs=${enc(v)}` });
  }
  for (const id of ['_bad', '_all', '_design', '_localx']) {
    out.push({ label: `PUT reserved id ${id}`, method: 'PUT', path: `/data/${id}`, body: '{}' });
  }
  for (const v of ['["bad"]', '[1]', '"x"', '["1-"]']) out.push({ label: `GET atts_since=${v}`, method: 'GET', path: `/data/d01?atts_since=${enc(v)}` });
  // An attachment on a local document is a 400 whatever its media type (not a 415 for a non-JSON one).
  for (const type of ['application/octet-stream', 'application/json', 'image/png']) {
    out.push({ label: `PUT _local attachment as ${type}`, method: 'PUT', path: '/data/_local/newlocal/att', body: 'bytes', headers: { 'content-type': type } });
  }
  out.push({ label: 'PUT doc with a CR/LF content_type', method: 'PUT', path: '/data/newdoc', body: j({ _attachments: { a: { content_type: 'text/html\r\nX-Evil: 1', data: 'aGk=' } } }) });
  return out;
}

export function readParamCases(): Case[] {
  const out: Case[] = [];
  // An integer past 2^53 is none of them there: couch_mrview_http takes Erlang integers of any size.
  const badCounts = BAD_INTS.filter((v) => !/^[0-9]+$/.test(v));
  for (const p of ['limit', 'skip']) for (const v of badCounts) out.push({ label: `_all_docs ${p}=${v}`, method: 'GET', path: `/data/_all_docs?${p}=${enc(v)}` });
  for (const p of ['descending', 'include_docs', 'inclusive_end', 'conflicts']) {
    for (const v of BAD_BOOLS) out.push({ label: `_all_docs ${p}=${v}`, method: 'GET', path: `/data/_all_docs?${p}=${enc(v)}` });
  }
  for (const p of ['startkey', 'start_key', 'endkey', 'end_key', 'key']) {
    for (const v of BAD_KEYS) out.push({ label: `_all_docs ${p}=${v}`, method: 'GET', path: `/data/_all_docs?${p}=${enc(v)}` });
  }
  // keys must be an array; its members may be anything (a key that is no string names no document).
  for (const v of ['"a"', 'notjson', '{"a":1}']) out.push({ label: `_all_docs keys=${v}`, method: 'GET', path: `/data/_all_docs?keys=${enc(v)}` });
  for (const keys of ['a', { a: 1 }, 1, true]) {
    out.push({ label: `POST _all_docs keys=${j(keys)}`, method: 'POST', path: '/data/_all_docs', body: j({ keys }) });
  }
  for (const docs of [undefined, 1, 's', {}, null, true]) {
    out.push({ label: `_bulk_get docs=${j(docs)}`, method: 'POST', path: '/data/_bulk_get', body: j({ docs }) });
  }
  for (const path of ['/data/_revs_diff', '/data/_missing_revs']) {
    for (const v of ['abc', [1], [null], ['garbage'], 1, {}, null, true, [['1-' + HEX('a')]]]) {
      out.push({ label: `${path} value=${j(v)}`, method: 'POST', path, body: j({ d01: v }) });
    }
  }
  for (const n of BAD_INTS.concat(['1001'])) out.push({ label: `_uuids count=${n}`, method: 'GET', path: `/_uuids?count=${enc(n)}` });
  return out;
}

const BAD_SELECTORS: unknown[] = [
  1,
  's',
  [],
  null,
  { a: { $bogus: 1 } },
  { $and: 1 },
  { $or: 1 },
  { $nor: {} },
  { a: { $in: 1 } },
  { a: { $nin: 'x' } },
  { a: { $regex: 5 } },
  { a: { $regex: '(' } },
  { a: { $size: 'x' } },
  { a: { $exists: 'x' } },
  { a: { $type: 1 } },
  { a: { $mod: [0, 1] } },
  { a: { $mod: 'x' } },
  { a: { $elemMatch: 1 } },
  { $not: 1 },
  { a: { $all: 1 } },
  { a: { $eq: 1, $bogus: 2 } },
];

export function findCases(): Case[] {
  const out: Case[] = [];
  for (const path of ['/data/_find', '/data/_explain']) {
    out.push({ label: `${path} without selector`, method: 'POST', path, body: '{}' });
    for (const selector of BAD_SELECTORS) out.push({ label: `${path} selector=${j(selector)}`, method: 'POST', path, body: j({ selector }) });
    // Past the selector nesting limit, within the 4 KiB body limit this suite runs with.
    out.push({ label: `${path} selector nested 300 levels deep`, method: 'POST', path, body: `{"selector":${'{"$and":['.repeat(300)}{"n":1}${']}'.repeat(300)}}` });
  }
  const params: Record<string, unknown[]> = {
    limit: [-1, 'x', 1.5, {}, 1e300],
    skip: [-1, 'x', 1.5, {}],
    sort: ['x', [1], [{ a: 'up' }], {}, [{ a: 'asc', b: 'asc' }], [[]], [{}]],
    fields: ['x', [1], {}, [[]]],
    bookmark: [5, 'garbage!', {}],
  };
  for (const [k, values] of Object.entries(params)) {
    for (const v of values) out.push({ label: `_find ${k}=${j(v)}`, method: 'POST', path: '/data/_find', body: j({ selector: {}, [k]: v }) });
  }
  for (const index of [undefined, 5, 'x', {}, { fields: 'x' }, { fields: [] }]) {
    out.push({ label: `_index index=${j(index)}`, method: 'POST', path: '/data/_index', body: j({ index }) });
  }
  return out;
}

export function changesCases(): Case[] {
  const out: Case[] = [];
  const get = (label: string, qs: string): Case => ({ label: `_changes ${label}`, method: 'GET', path: `/data/_changes?${qs}` });
  for (const v of ['bogus', '', 'CONTINUOUS', 'websocketx']) out.push(get(`feed=${v}`, `feed=${enc(v)}`));
  for (const v of ['abc', '-1', '1.5', '', 'nowx', '{}', '[1]', '1e3']) out.push(get(`since=${v}`, `since=${enc(v)}`));
  for (const v of BAD_INTS) out.push(get(`limit=${v}`, `limit=${enc(v)}`));
  // No flag (descending, include_docs...) here: CouchDB's _changes takes the word `true` and ignores other values.
  for (const v of ['bogus', '', 'ALL_DOCS']) out.push(get(`style=${v}`, `style=${enc(v)}`));
  for (const v of ['abc', '-1', '1.5']) {
    out.push(get(`heartbeat=${v}`, `feed=continuous&heartbeat=${enc(v)}`));
    out.push(get(`timeout=${v}`, `feed=longpoll&timeout=${enc(v)}`));
  }
  for (const v of ['notjson', '"a"', '[1]', '{}', '[null]']) out.push(get(`doc_ids=${v}`, `filter=_doc_ids&doc_ids=${enc(v)}`));
  for (const docIds of ['a', [1], {}, 1, true]) {
    out.push({ label: `POST _changes doc_ids=${j(docIds)}`, method: 'POST', path: '/data/_changes?filter=_doc_ids', body: j({ doc_ids: docIds }) });
  }
  out.push(get('filter=_selector by GET', 'filter=_selector'));
  out.push({ label: 'POST _changes _selector missing', method: 'POST', path: '/data/_changes?filter=_selector', body: '{}' });
  for (const selector of BAD_SELECTORS.filter((s) => s !== null)) {
    out.push({ label: `POST _changes selector=${j(selector)}`, method: 'POST', path: '/data/_changes?filter=_selector', body: j({ selector }) });
  }
  return out;
}
