// Many documents at once: `_all_docs`, `_design_docs`, `_local_docs` (each with `/queries`), `_bulk_docs`,
// `_bulk_get`, `_revs_diff`, `_missing_revs`.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { checkDoc, randomUuid, validateLocalDoc, type AllDocsListing, type AllDocsOptions, type AllDocsRow, type BulkGetRequest, type Database, type Listing } from '../documents/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { checkDocumentSizes } from './doc-writes.ts';
import { jsonTexts, resultsAnswer, sendRows, type RowsAnswer } from './json-rows.ts';
import { blobSource, checkFollowed } from './followed-blobs.ts';
import { accepts, bulkGetMultipart } from './multipart.ts';
import { SANDBOXED_CONTENT } from './sandboxed-content.ts';
import { bool, json, objectBody, trueFlag, type Query } from './params.ts';
import { bodyOf } from './streamed-json.ts';
import { bulkDocsWire, revsDiffWire } from './wire.ts';
import { checkPartition, parseViewParams } from '../views/index.ts';

/** Parameters CouchDB reads as JSON in a query string (the rest are words and integers). */
const JSON_PARAMS = new Set(['key', 'keys', 'startkey', 'start_key', 'endkey', 'end_key']);

/**
 * Parameters of a POST: the query string's where it has them (it wins, as in CouchDB), else the
 * body's; each query of a `/queries` body wins over the query string instead. Body values (JSON)
 * take their query-string form, so one parser checks both.
 */
function withBody(q: Query, body?: Record<string, unknown>, bodyWins = false): Query {
  if (!body) return q;
  const out: Query = { ...q };
  for (const [name, value] of Object.entries(body)) {
    if (name === 'keys' || value === undefined || (!bodyWins && Object.hasOwn(q, name))) continue;
    out[name] = JSON_PARAMS.has(name) || (value !== null && typeof value === 'object') ? JSON.stringify(value) : String(value);
  }
  return out;
}

/**
 * `keys` may hold any JSON, as in CouchDB: a key that is not a string names no document and comes
 * back as not_found. It travels as an id no document can have (ids never hold NUL) that keeps its
 * value, and `restored` puts the value back in its row.
 */
const FOREIGN = '\u0000';

function keysParam(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw new RefugeError('bad_request', '`keys` body member must be an array.');
  // A string key starting with the mark travels marked too (no document has such an id either).
  return value.map((k) => (typeof k === 'string' && !k.startsWith(FOREIGN) ? k : FOREIGN + JSON.stringify(k)));
}

const isForeign = (r: { key: unknown }) => typeof r.key === 'string' && r.key.startsWith(FOREIGN);
const restored = <R extends { key: unknown }>(r: R) => (isForeign(r) ? { key: JSON.parse((r.key as string).slice(1)) as unknown, error: 'not_found' } : r);

/**
 * A listing as CouchDB's answer, `{"total_rows":N,"offset":M,"rows":[...]}` with `update_seq` before
 * `rows` when asked (couch_mrview_http:view_cb writes its meta first), byte for byte as
 * JSON.stringify writes the library's result. `total` stands for the listing's total rows
 * (_design_docs counts its own).
 */
function allDocsAnswer(listing: AllDocsListing, total: number | undefined, updateSeq: boolean, byKeys: boolean): RowsAnswer {
  // Rows asked by `keys` have no place in the index: CouchDB's offset and update_seq are null then
  // (fabric_view_all_docs' keys branch).
  const seq = updateSeq ? `"update_seq":${byKeys ? null : listing.updateSeq},` : '';
  return listingAnswer(listing, () => `{"total_rows":${total ?? listing.totalRows},"offset":${byKeys ? null : listing.offset},${seq}"rows":[`, () => ']}');
}

/**
 * `_local_docs` as CouchDB answers it: local documents are not counted, so its totals, offset and
 * `update_seq` (when asked) are null (couch_mrview's get_total_rows and get_update_seq).
 */
function localDocsAnswer(listing: Listing<AllDocsRow>, updateSeq: boolean): RowsAnswer {
  return listingAnswer(listing, () => `{"total_rows":null,"offset":null,${updateSeq ? '"update_seq":null,' : ''}"rows":[`, () => ']}');
}

function listingAnswer(listing: Listing<AllDocsRow>, head: () => string, tail: () => string): RowsAnswer {
  const chunks = jsonTexts(listing.chunks, restored);
  return {
    chunks,
    head,
    tail,
    close: async () => {
      await chunks.return(undefined).catch(() => undefined);
      await listing.close();
    },
  };
}

/**
 * `key`, `startkey` or `endkey` of an id listing. CouchDB takes any JSON there and compares it with
 * ids as the id tree does, in Erlang term order (couch_mrview_util:ad_skey_opts/ad_ekey_opts, since
 * apache/couchdb#4524), where a number, null, boolean, array or object sorts before every string.
 * So a key that is no string stands for the place before every id: '' (no id is empty). `key=1`
 * then lists nothing, `startkey=1` starts at the first id, `endkey=1` ends before it (descending,
 * the other way round).
 */
function idKey(q: Query, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = json(q, name);
    if (v !== undefined) return typeof v === 'string' ? v : '';
  }
  return undefined;
}

export function allDocsOptions(query: Query, body?: Record<string, unknown>, bodyWins = false): AllDocsOptions {
  const q = withBody(query, body, bodyWins);
  // CouchDB reads these with its views' parser (couch_mrview_http:parse_params): a bad value is
  // refused with that parser's error and reason before anything else is looked at.
  const parsed = parseViewParams(q);
  checkPartition(parsed.partition, '`partition` parameter is not supported on this db');
  const keys = keysParam(body?.keys ?? json(q, 'keys'));
  return {
    startkey: idKey(q, 'startkey', 'start_key'),
    endkey: idKey(q, 'endkey', 'end_key'),
    key: idKey(q, 'key'),
    keys,
    inclusiveEnd: bool(q, 'inclusive_end', true),
    descending: bool(q, 'descending'),
    // As that parser reads them: a count past 2^53 is taken (held to the largest safe integer).
    limit: parsed.limit,
    skip: parsed.skip,
    includeDocs: bool(q, 'include_docs'),
    conflicts: bool(q, 'conflicts'),
    attachments: bool(q, 'attachments'),
  };
}

/**
 * `_design_docs`: the same options, the range kept inside `_design/` ids, and `keys` to the design
 * documents among them (CouchDB's fabric_view_all_docs: filter_keys_by_namespace).
 */
function designDocsOptions(query: Query, body?: Record<string, unknown>, bodyWins = false): AllDocsOptions {
  const o = allDocsOptions(query, body, bodyWins);
  const [low, high] = ['_design/', '_design0'];
  if (o.keys) return { ...o, keys: o.keys.filter((k) => k.startsWith(low)) };
  // A key outside the range reads nothing: an empty range, not an empty list of keys (whose offset is null).
  if (o.key !== undefined) return o.key.startsWith(low) ? o : { ...o, key: undefined, startkey: high, endkey: high, inclusiveEnd: false };
  if (o.descending) {
    const start = o.startkey === undefined || o.startkey > high ? high : o.startkey;
    const end = o.endkey === undefined || o.endkey < low ? low : o.endkey;
    return { ...o, startkey: start, endkey: end };
  }
  const start = o.startkey === undefined || o.startkey < low ? low : o.startkey;
  const clampEnd = o.endkey === undefined || o.endkey > high;
  return { ...o, startkey: start, endkey: clampEnd ? high : o.endkey, inclusiveEnd: clampEnd ? false : o.inclusiveEnd };
}

/** `{queries: [...]}` of a `.../queries` POST, each an object of options. */
function queriesOf(body: unknown): Array<Record<string, unknown>> {
  const queries = objectBody(body).queries;
  if (!Array.isArray(queries)) throw new RefugeError('bad_request', '`queries` member must be an array.');
  for (const q of queries) if (q === null || typeof q !== 'object' || Array.isArray(q)) throw new RefugeError('bad_request', 'Each query must be a JSON object');
  return queries as Array<Record<string, unknown>>;
}

export function bulkRoutes(app: FastifyInstance, ctx: ServerContext): void {
  // `_all_docs` and `_design_docs`: GET, POST (options in the body too) and POST `/queries` (several).
  for (const [path, optionsOf] of [['_all_docs', allDocsOptions], ['_design_docs', designDocsOptions]] as const) {
    // CouchDB's _design_docs counts design documents in total_rows, not the whole database: counted
    // once per request, however many queries it holds.
    const totalOf = async (db: Database) => (path === '_design_docs' ? (await db.allDocs({ ...designDocsOptions({}), offset: false })).rows.length : undefined);
    // One listing is streamed as it is read (json-rows.ts), from one snapshot.
    const one = async (req: FastifyRequest, reply: FastifyReply, body?: Record<string, unknown>) => {
      const db = await dbOf(ctx, req);
      const q = withBody(req.query as Query, body);
      const options = optionsOf(req.query as Query, body);
      // A HEAD reads no row (sendRows), nor counts any: its totals and offset are never sent.
      const head = req.method === 'HEAD';
      const total = head ? undefined : await totalOf(db);
      const listing = await db.allDocsListing(total === undefined && !head ? options : { ...options, offset: false });
      return sendRows(reply, allDocsAnswer(listing, total, bool(q, 'update_seq'), options.keys !== undefined));
    };
    app.get(`/:db/${path}`, (req, reply) => one(req, reply));
    app.post(`/:db/${path}`, (req, reply) => one(req, reply, objectBody(req.body)));
    // Several listings, each streamed in turn from its own snapshot; every query is checked first.
    app.post(`/:db/${path}/queries`, async (req, reply) => {
      const db = await dbOf(ctx, req);
      const queries = queriesOf(req.body);
      const options = queries.map((query) => optionsOf(req.query as Query, query, true));
      const total = await totalOf(db);
      // Each query asks for update_seq on its own, as each of CouchDB's sends its own meta.
      const opens = queries.map((query, i) => async () => {
        // _design_docs' offset, too, counts design documents only: the rows skipped among them.
        const listing = await db.allDocsListing(total === undefined ? options[i]! : { ...options[i]!, offset: false });
        return allDocsAnswer(listing, total, bool(withBody(req.query as Query, query, true), 'update_seq'), options[i]!.keys !== undefined);
      });
      return sendRows(reply, resultsAnswer(opens));
    });
  }

  // Streamed as it is read, from one snapshot, as _all_docs is.
  const local = async (req: FastifyRequest, reply: FastifyReply, body?: Record<string, unknown>) => {
    const db = await dbOf(ctx, req);
    const options = allDocsOptions(req.query as Query, body);
    const listing = await db.localDocsListing(options);
    return sendRows(reply, localDocsAnswer(listing, bool(withBody(req.query as Query, body), 'update_seq')));
  };
  app.get('/:db/_local_docs', (req, reply) => local(req, reply));
  app.post('/:db/_local_docs', (req, reply) => local(req, reply, objectBody(req.body)));
  app.post('/:db/_local_docs/queries', async (req, reply) => {
    const db = await dbOf(ctx, req);
    const queries = queriesOf(req.body);
    const options = queries.map((query) => allDocsOptions(req.query as Query, query, true));
    const opens = queries.map((query, i) => async () => localDocsAnswer(await db.localDocsListing(options[i]!), bool(withBody(req.query as Query, query, true), 'update_seq')));
    return sendRows(reply, resultsAnswer(opens));
  });
  const postOnly = async () => {
    throw new RefugeError('method_not_allowed', 'Only POST allowed');
  };
  for (const path of ['_all_docs', '_design_docs', '_local_docs']) app.route({ method: ['GET', 'HEAD', 'PUT', 'DELETE'], url: `/:db/${path}/queries`, handler: postOnly });

  app.post('/:db/_bulk_docs', async (req, reply) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(await bodyOf(ctx, req, reply));
    if (body.docs === undefined) throw new RefugeError('bad_request', 'POST body must include `docs` parameter.');
    if (!Array.isArray(body.docs)) throw new RefugeError('bad_request', '`docs` parameter must be an array.');
    if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean') {
      throw new RefugeError('bad_request', '`new_edits` parameter must be a boolean.');
    }
    const newEdits = body.new_edits !== false;
    checkDocumentSizes(body.docs, ctx.settings.maxDocumentSize, req.headers['content-length']);
    if (!newEdits) {
      for (const d of body.docs) {
        const doc = (d ?? {}) as { _rev?: unknown; _revisions?: unknown };
        if (doc._rev === undefined && doc._revisions === undefined) {
          throw new RefugeError('bad_request', 'When `new_edits: false`, the document needs `_rev` or `_revisions` specified');
        }
      }
    }
    // As CouchDB: a malformed document (not an object, bad id, bad special field) fails the whole
    // request with nothing written; conflicts and the like stay per-document results.
    for (const doc of body.docs) {
      // `_local/` documents have their own revs (`0-N`) and checks, as CouchDB's from_json_obj reads them too.
      const id = (doc as { _id?: unknown } | null)?._id;
      const local = typeof id === 'string' && id.startsWith('_local/') && id.length > '_local/'.length;
      try {
        if (local) validateLocalDoc(doc);
        else checkDoc(doc, newEdits);
      } catch (err) {
        if (isRefugeError(err) && err.status === 400) throw err;
      }
    }
    // CouchDB 3 dropped all_or_nothing: once the documents passed its checks, a write that asks it
    // (with new edits: replicated ones ignore it) writes nothing, and answers 417 with one
    // not_implemented row per document, named by its id (a new one drawn where none is given) and rev.
    if (body.all_or_nothing === true && newEdits && body.docs.length > 0) {
      reply.code(417);
      return body.docs.map((d) => {
        const doc = d as { _id?: unknown; _rev?: unknown };
        return {
          id: typeof doc._id === 'string' ? doc._id : randomUuid(),
          rev: typeof doc._rev === 'string' ? doc._rev : '0-',
          error: 'not_implemented',
          reason: 'all_or_nothing is not supported',
        };
      });
    }
    const results = await db.bulkDocs(body.docs, { newEdits, userCtx: req.user });
    reply.code(201);
    return bulkDocsWire(results, newEdits, body.docs);
  });

  app.post('/:db/_bulk_get', async (req, reply) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    if (!Array.isArray(body.docs)) throw new RefugeError('bad_request', 'Missing JSON list of `docs`.');
    const q = req.query as Query;
    // Per-document choices go in the items; CouchDB refuses them in the query string.
    for (const name of ['rev', 'open_revs', 'atts_since', 'w', 'new_edits']) {
      if (Object.hasOwn(q, name)) throw new RefugeError('bad_request', `"${name}" query parameter is not acceptable`);
    }
    const options = { revs: trueFlag(q, 'revs'), latest: trueFlag(q, 'latest'), attachments: trueFlag(q, 'attachments') };
    // Multipart only for a client that takes it and not JSON, as CouchDB negotiates (2.3+):
    // attachment bytes then follow each document instead of riding in it as base64.
    const accept = req.headers.accept;
    const type = accepts(accept, 'application/json') ? undefined : accepts(accept, 'multipart/mixed') ? 'multipart/mixed' : accepts(accept, 'multipart/related') ? 'multipart/related' : undefined;
    // Chunked, as CouchDB sends it: a replicating client then notices an answer cut short (json-rows.ts).
    // Items go out as they are read, documents with inlined attachments one item at a time.
    if (type === undefined) return sendRows(reply, bulkGetAnswer(await db.bulkGetListing(body.docs as BulkGetRequest[], options)), { chunked: true });
    // As CouchDB's: the bytes always follow (atts_since, per document, leaves out those the client has).
    const result = await db.bulkGet(body.docs as BulkGetRequest[], { ...options, attachments: true, attachmentsFollow: true });
    const docs = result.results.flatMap((r) => r.docs.flatMap((d) => ('ok' in d ? [d.ok] : [])));
    await checkFollowed(ctx, docs);
    const answer = bulkGetMultipart(result.results, type, blobSource(ctx));
    // Attachments' bytes ride in the parts: sandboxed like the attachments themselves.
    return reply.header('Content-Type', answer.contentType).headers(SANDBOXED_CONTENT).send(answer.body);
  });

  app.post('/:db/_revs_diff', async (req) => {
    const db = await dbOf(ctx, req);
    return revsDiffWire(await db.revsDiff(objectBody(req.body)));
  });

  app.post('/:db/_missing_revs', async (req) => {
    const db = await dbOf(ctx, req);
    const diff = await db.revsDiff(objectBody(req.body));
    const missing: Record<string, string[]> = {};
    for (const [id, v] of Object.entries(diff)) missing[id] = v.missing;
    return { missing_revs: missing };
  });
}

/** A `_bulk_get` listing as CouchDB's `{"results":[...]}`. */
function bulkGetAnswer(listing: Awaited<ReturnType<Database['bulkGetListing']>>): RowsAnswer {
  return { chunks: jsonTexts(listing.chunks), head: () => '{"results":[', tail: () => ']}', close: () => listing.close() };
}
