// Design-document indexes over HTTP: views (`_view`, `queries`, `_info`), full-text search
// (`_search`, `_search_info`) and `_view_cleanup` (`_design_docs` is with `_all_docs`, routes-bulk.ts).

import type { FastifyInstance, FastifyReply } from 'fastify';
import { searchRequest } from '../search/index.ts';
import { parseViewRequest, type ViewListing } from '../views/index.ts';
import { RefugeError } from '../errors/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { objectBody, requireJsonType } from './params.ts';
import { requireDbAdmin } from './user-access.ts';
import { resultsAnswer, sendRows, type RowsAnswer } from './json-rows.ts';

type DesignReq = { Params: { db: string; ddoc: string; name: string }; Querystring: Record<string, string> };

export function designRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const view = async (req: { params: DesignReq['Params']; query: unknown }, reply: FastifyReply, body: Record<string, unknown> | undefined, multi = false) => {
    await dbOf(ctx, req);
    // CouchDB 3 takes several queries only at `.../queries` (chttpd_view:handle_view_req); a
    // `queries` member sent to the view itself is refused once it is known to be a list.
    if (body !== undefined && !multi && body.queries !== undefined && Array.isArray(body.queries)) {
      throw new RefugeError('bad_request', 'The `queries` parameter is no longer supported at this endpoint');
    }
    if (multi && body?.queries === undefined) throw new RefugeError('bad_request', 'POST body must include `queries` parameter.');
    const views = await (await ctx.node.design(req.params.db)).views();
    const ddocId = `_design/${req.params.ddoc}`;
    const parsed = parseViewRequest(req.query as Record<string, string>, body);
    // Every query is checked before the first is read, then each is streamed in turn.
    if ('queries' in parsed) return sendRows(reply, resultsAnswer(parsed.queries.map((q) => async () => viewAnswer(await views.listing(ddocId, req.params.name, q, q.update)))));
    const listing = await views.listing(ddocId, req.params.name, parsed.options);
    return 'whole' in listing ? listing.whole : sendRows(reply, viewAnswer(listing));
  };
  // Temporary views are gone from CouchDB since 2.0; it says so, whatever the method.
  app.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
    url: '/:db/_temp_view',
    handler: async (req) => {
      await dbOf(ctx, req);
      throw new RefugeError('gone', 'Temporary views are not supported in CouchDB');
    },
  });
  app.get<DesignReq>('/:db/_design/:ddoc/_view/:name', (req, reply) => view(req, reply, undefined));
  app.post<DesignReq>('/:db/_design/:ddoc/_view/:name', (req, reply) => view(req, reply, objectBody(req.body)));
  app.post<DesignReq>('/:db/_design/:ddoc/_view/:name/queries', (req, reply) => view(req, reply, objectBody(req.body), true));
  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE'],
    url: '/:db/_design/:ddoc/_view/:name/queries',
    handler: async () => {
      throw new RefugeError('method_not_allowed', 'Only POST allowed');
    },
  });
  // A view is read, never written: not an attachment of the design document named `_view/...`.
  app.route({
    method: ['PUT', 'DELETE'],
    url: '/:db/_design/:ddoc/_view/:name',
    handler: async () => {
      throw new RefugeError('method_not_allowed', 'Only GET,HEAD,POST allowed');
    },
  });
  app.get<{ Params: { db: string; ddoc: string } }>('/:db/_design/:ddoc/_info', async (req) => {
    await dbOf(ctx, req);
    const design = await ctx.node.design(req.params.db);
    await design.docs.get(req.params.ddoc);
    return (await design.views()).info(`_design/${req.params.ddoc}`);
  });

  const search = async (req: { params: DesignReq['Params']; query: unknown; body?: unknown }) => {
    await dbOf(ctx, req);
    const design = await ctx.node.design(req.params.db);
    const params = { ...(req.query as Record<string, unknown>), ...(req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {}) };
    return searchRequest(await design.search(), req.params.ddoc, req.params.name, params);
  };
  app.get<DesignReq>('/:db/_design/:ddoc/_search/:name', (req) => search(req));
  app.post<DesignReq>('/:db/_design/:ddoc/_search/:name', (req) => search({ ...req, params: req.params, query: req.query, body: objectBody(req.body) }));
  app.get<DesignReq>('/:db/_design/:ddoc/_search_info/:name', async (req) => {
    await dbOf(ctx, req);
    return (await (await ctx.node.design(req.params.db)).search()).info(req.params.ddoc, req.params.name);
  });

  // CouchDB compacts a design document's view index in the background and answers 202 at once.
  app.post<{ Params: { db: string; ddoc: string } }>('/:db/_compact/:ddoc', async (req, reply) => {
    requireJsonType(req.headers);
    await requireDbAdmin(ctx, req.user, req.params.db);
    const lease = await ctx.node.lease(req.params.db);
    try {
      const design = await ctx.node.design(req.params.db);
      await design.docs.get(req.params.ddoc);
      const store = await design.indexStore();
      // Held until the compaction is done, so the node does not close the database under it.
      const done = store.compactRange ? store.compactRange({ gte: '', lt: '\u{10ffff}' }) : Promise.resolve();
      void done.catch((err) => req.log.error({ err }, 'index compaction failed')).finally(() => lease.release());
    } catch (err) {
      lease.release();
      throw err;
    }
    reply.code(202);
    return { ok: true };
  });

  app.post<{ Params: { db: string } }>('/:db/_view_cleanup', async (req, reply) => {
    requireJsonType(req.headers);
    await requireDbAdmin(ctx, req.user, req.params.db);
    await dbOf(ctx, req);
    await (await ctx.node.design(req.params.db)).cleanup();
    reply.code(202);
    return { ok: true };
  });
}

/**
 * A view's answer as CouchDB writes it: a map's `total_rows` and `offset`, then `update_seq` when
 * asked (a reduce has only that), then the rows; a large one streams as it is read (json-rows.ts).
 * One read whole is its JSON as the library's query answers it.
 */
function viewAnswer(listing: ViewListing): RowsAnswer {
  if ('whole' in listing) {
    const text = JSON.stringify(listing.whole);
    return { chunks: (async function* () {})(), head: () => '', tail: () => text, close: async () => undefined };
  }
  const meta = (listing.totalRows === undefined ? '' : `"total_rows":${listing.totalRows},"offset":${listing.offset},`) + (listing.updateSeq === undefined ? '' : `"update_seq":${listing.updateSeq},`);
  const chunks = (async function* () {
    for (;;) {
      const next = await listing.chunks.next();
      if (next.done) return;
      yield next.value.map((row) => JSON.stringify(row));
    }
  })();
  return {
    chunks,
    head: () => `{${meta}"rows":[`,
    tail: () => ']}',
    close: async () => {
      await chunks.return(undefined).catch(() => undefined);
      await listing.close();
    },
  };
}
