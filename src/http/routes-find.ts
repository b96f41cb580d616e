// Mango over HTTP: `_find` (json indexes when asked for or when the automatic path index is off),
// `_explain`, and `_index` (json indexes as views, listed beside the automatic path index).

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FindListing } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { indexDdocId, listIndexes, prepareIndex, removeAllIndexes, removeIndex } from '../views/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { objectBody, type Query } from './params.ts';
import { findRequest } from './find-request.ts';
import { jsonTexts, sendRows, type RowsAnswer } from './json-rows.ts';
import { findEndWire } from './wire.ts';

export function findRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const design = async (req: { params: unknown }) => {
    await dbOf(ctx, req);
    return ctx.node.design((req.params as { db: string }).db);
  };

  // Documents go out as they are found (sendRows); the bookmark, warnings and statistics follow
  // them, as in CouchDB's answer, once the read ended.
  app.post('/:db/_find', async (req, reply) => {
    const body = objectBody(req.body);
    const listing = await (await design(req)).findListing(findRequest(body, req.query as Query));
    return sendRows(reply, findAnswer(listing));
  });

  app.post('/:db/_explain', async (req) => {
    const body = objectBody(req.body);
    return (await design(req)).explain(findRequest(body, req.query as Query));
  });

  // The automatic path index is not listed: clients count and walk this list as CouchDB answers it
  // (only _all_docs is built in there); `_explain` names the path index when it serves a query.
  app.get('/:db/_index', async (req) => {
    await dbOf(ctx, req);
    const indexes: unknown[] = [...listIndexes(await (await design(req)).docs.all()).indexes];
    const { skip, limit } = listRange(req.query as Query, indexes.length);
    return { total_rows: indexes.length, indexes: indexes.slice(skip, skip + limit) };
  });

  // A json index is a design document of `language: "query"` views (CouchDB's layout), built
  // incrementally like any view; the path index keeps answering queries no json index fits.
  app.post('/:db/_index', async (req) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    const ddocId = indexDdocId(body);
    const existing = await db.get(ddocId).catch((err) => {
      if (isRefugeError(err, 'not_found')) return undefined;
      throw err;
    });
    const prepared = prepareIndex(body, existing);
    if (prepared.doc) await db.put(prepared.doc, { userCtx: req.user });
    return { result: prepared.result, id: prepared.id, name: prepared.name };
  });

  // Deletes one index: `/_index/{ddoc}/json/{name}`, the ddoc with or without `_design/`. Whatever
  // is not there (the type, the design document, deleted or never made, the index) is CouchDB's
  // one not_found "missing".
  const removeOne = async (req: FastifyRequest<{ Params: { db: string; ddoc: string; type: string; name: string } }>) => {
    const db = await dbOf(ctx, req);
    const { ddoc: ddocName, type, name } = req.params;
    if (type !== 'json') throw new RefugeError('not_found', 'missing');
    const ddoc = await db.get(ddocName.startsWith('_design/') ? ddocName : `_design/${ddocName}`).catch((err) => {
      throw isRefugeError(err, 'not_found') ? new RefugeError('not_found', 'missing') : err;
    });
    await db.put(removeIndex(ddoc, name), { userCtx: req.user });
    return { ok: true };
  };
  const only = (method: string) => async () => {
    throw new RefugeError('method_not_allowed', `Only ${method} allowed`);
  };
  const others = (but: string) => ALL_METHODS.filter((m) => m !== but && app.supportedMethods.includes(m));
  for (const url of ['/:db/_index/:ddoc/:type/:name', '/:db/_index/_design/:ddoc/:type/:name']) {
    app.delete(url, removeOne);
    app.route({ method: others('DELETE'), url, handler: only('DELETE') });
  }

  // POST {"docids": [...]}: deletes the json indexes of these design documents, each on its own (the
  // design document goes with its last index, unless it holds more: a text index's `indexes`).
  app.post('/:db/_index/_bulk_delete', async (req) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    // mango_opts:validate_bulk_delete: `docids` and `w`, nothing else.
    for (const key of Object.keys(body)) {
      if (key !== 'docids' && key !== 'w') throw new RefugeError('invalid_key', `Invalid key ${key} for this request.`);
    }
    if (body.w !== undefined && !(Number.isSafeInteger(body.w) && (body.w as number) > 0)) {
      throw new RefugeError('invalid_pos_integer', `${JSON.stringify(body.w)} is not an integer greater than zero`);
    }
    const ids = body.docids;
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) {
      throw new RefugeError('invalid_bulk_docs', `Bulk Delete requires an array of non-null docids. Docids: ${JSON.stringify(ids)}`);
    }
    const success: unknown[] = [];
    const fail: unknown[] = [];
    for (const given of ids as string[]) {
      const id = given.startsWith('_design/') ? given : `_design/${given}`;
      try {
        await db.put(removeAllIndexes(await db.get(id)), { userCtx: req.user });
        success.push({ id, ok: true });
      } catch (err) {
        fail.push({ id, error: isRefugeError(err) ? err.code : 'internal' });
      }
    }
    return { success, fail };
  });
  app.route({ method: others('POST'), url: '/:db/_index/_bulk_delete', handler: only('POST') });
  // Any other path under _index names nothing (it is never a document: ids cannot start with _).
  app.route({ method: ALL_METHODS.filter((m) => app.supportedMethods.includes(m)), url: '/:db/_index/*', handler: async () => {
    throw new RefugeError('not_found', 'missing');
  } });
}

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'COPY'];

/** `limit` and `skip` of the index list; CouchDB answers anything else with a 500 of its own. */
function listRange(q: Query, total: number): { skip: number; limit: number } {
  const num = (name: string, dflt: number, min: number) => {
    const raw = q[name];
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (typeof raw !== 'string' || !/^-?[0-9]+$/.test(raw) || n < min) {
      throw new RefugeError('invalid_list_index_params', 'Index parameter ranges: limit > 1, skip > 0');
    }
    return n;
  };
  return { skip: num('skip', 0, 0), limit: num('limit', total, 1) };
}

/** A find listing as `{"docs":[...],"bookmark":...}`, its tail written once the documents ended. */
function findAnswer(listing: FindListing): RowsAnswer {
  return {
    chunks: jsonTexts(listing.chunks),
    head: () => '{"docs":[',
    tail: () => '],' + JSON.stringify(findEndWire(listing.end())).slice(1),
    close: () => listing.close(),
  };
}
