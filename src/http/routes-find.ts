// Mango over HTTP: `_find` (json indexes when asked for or when the automatic path index is off),
// `_explain`, and `_index` (json indexes as views, listed beside the automatic path index).

import type { FastifyInstance } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { indexDdocId, listIndexes, prepareIndex, removeIndex } from '../views/index.ts';
import type { FindRequest } from '../documents/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { objectBody } from './params.ts';
import { findWire } from './wire.ts';

/** CouchDB's checks of the options only the wire has (mango_opts): `r` and the flags. */
function checkWireOptions(body: Record<string, unknown>): void {
  const r = body.r;
  if (r !== undefined && !(Number.isSafeInteger(r) && (r as number) > 0)) {
    throw new RefugeError('invalid_pos_integer', `${JSON.stringify(r)} is not an integer greater than zero`);
  }
  for (const flag of ['execution_stats', 'stable', 'update', 'allow_fallback']) {
    const v = body[flag];
    if (v !== undefined && typeof v !== 'boolean') throw new RefugeError('invalid_boolean', `Invalid boolean value: ${JSON.stringify(v)}`);
  }
}

function findRequest(body: Record<string, unknown>): FindRequest {
  checkWireOptions(body);
  return {
    selector: body.selector,
    fields: body.fields,
    sort: body.sort,
    limit: body.limit as number | undefined,
    skip: body.skip as number | undefined,
    bookmark: body.bookmark as string | undefined,
    conflicts: body.conflicts as boolean | undefined,
    executionStats: body.execution_stats === true,
  };
}

const PATH_INDEX = { ddoc: null, name: '_path_index', type: 'path', def: { fields: [{ '*': 'asc' }] } };

export function findRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const design = async (req: { params: unknown }) => {
    await dbOf(ctx, req);
    return ctx.node.design((req.params as { db: string }).db);
  };

  app.post('/:db/_find', async (req) => {
    const body = objectBody(req.body);
    return findWire(await (await design(req)).find({ ...findRequest(body), useIndex: body.use_index }));
  });

  app.post('/:db/_explain', async (req) => {
    const body = objectBody(req.body);
    return (await design(req)).explain({ ...findRequest(body), useIndex: body.use_index });
  });

  app.get('/:db/_index', async (req) => {
    const db = await dbOf(ctx, req);
    const listed = listIndexes(await (await design(req)).docs.all());
    const indexes: unknown[] = [...listed.indexes];
    if ((await db.info()).autoIndex) indexes.splice(1, 0, PATH_INDEX);
    return { total_rows: indexes.length, indexes };
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

  app.delete<{ Params: { db: string; ddoc: string; name: string } }>('/:db/_index/:ddoc/json/:name', async (req) => {
    const db = await dbOf(ctx, req);
    const id = req.params.ddoc.startsWith('_design/') ? req.params.ddoc : `_design/${req.params.ddoc}`;
    const ddoc = await db.get(id);
    await db.put(removeIndex(ddoc, req.params.name), { userCtx: req.user });
    return { ok: true };
  });
  app.delete<{ Params: { db: string; ddoc: string; name: string } }>('/:db/_index/_design/:ddoc/json/:name', async (req) => {
    const db = await dbOf(ctx, req);
    const ddoc = await db.get(`_design/${req.params.ddoc}`);
    await db.put(removeIndex(ddoc, req.params.name), { userCtx: req.user });
    return { ok: true };
  });
}
