// Mango over HTTP: `_find`, `_explain`, and `_index`, which reports the automatic path index
// (every JSON path is already indexed, so a requested json index exists by construction).

import type { FastifyInstance } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import type { FindRequest } from '../documents/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { objectBody } from './params.ts';
import { findWire } from './wire.ts';

function findRequest(body: Record<string, unknown>): FindRequest {
  return {
    selector: body.selector,
    fields: body.fields,
    sort: body.sort,
    limit: body.limit as number | undefined,
    skip: body.skip as number | undefined,
    bookmark: body.bookmark as string | undefined,
    conflicts: body.conflicts === true,
    executionStats: body.execution_stats === true,
  };
}

const SPECIAL = { ddoc: null, name: '_all_docs', type: 'special', def: { fields: [{ _id: 'asc' }] } };

export function findRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/:db/_find', async (req) => {
    const db = await dbOf(ctx, req);
    return findWire(await db.find(findRequest(objectBody(req.body))));
  });

  app.post('/:db/_explain', async (req) => {
    const db = await dbOf(ctx, req);
    return db.explain(findRequest(objectBody(req.body)));
  });

  app.get('/:db/_index', async (req) => {
    const db = await dbOf(ctx, req);
    const info = await db.info();
    const indexes: unknown[] = [SPECIAL];
    if (info.autoIndex) indexes.push({ ddoc: null, name: '_path_index', type: 'path', def: { fields: [{ '*': 'asc' }] } });
    return { total_rows: indexes.length, indexes };
  });

  app.post('/:db/_index', async (req) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    const index = body.index as { fields?: unknown } | undefined;
    if (!index || !Array.isArray(index.fields) || index.fields.length === 0) {
      throw new RefugeError('bad_request', 'Index definition must include a non-empty `fields` array.');
    }
    if (!(await db.info()).autoIndex) await db.setAutoIndex(true);
    return { result: 'exists', id: '_design/_path_index', name: typeof body.name === 'string' ? body.name : '_path_index' };
  });
}
