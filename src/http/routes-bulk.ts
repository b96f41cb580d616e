// Many documents at once: `_all_docs`, `_local_docs`, `_bulk_docs`, `_bulk_get`, `_revs_diff`, `_missing_revs`.

import type { FastifyInstance } from 'fastify';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { splitDoc, type AllDocsOptions, type BulkGetRequest } from '../documents/index.ts';
import { dbOf, type ServerContext } from './context.ts';
import { bool, int, json, jsonKey, jsonStringArray, objectBody, type Query } from './params.ts';
import { allDocsWire, bulkDocsWire, revsDiffWire } from './wire.ts';

function allDocsOptions(q: Query, body?: Record<string, unknown>): AllDocsOptions {
  const keys = jsonStringArray(body?.keys ?? json(q, 'keys'), 'keys');
  return {
    startkey: jsonKey(q, 'startkey', 'start_key'),
    endkey: jsonKey(q, 'endkey', 'end_key'),
    key: jsonKey(q, 'key'),
    keys,
    inclusiveEnd: bool(q, 'inclusive_end', true),
    descending: bool(q, 'descending'),
    limit: int(q, 'limit'),
    skip: int(q, 'skip'),
    includeDocs: bool(q, 'include_docs'),
    conflicts: bool(q, 'conflicts'),
  };
}

export function bulkRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get('/:db/_all_docs', async (req) => {
    const db = await dbOf(ctx, req);
    return allDocsWire(await db.allDocs(allDocsOptions(req.query as Query)), bool(req.query as Query, 'update_seq'));
  });

  app.post('/:db/_all_docs', async (req) => {
    const db = await dbOf(ctx, req);
    return allDocsWire(await db.allDocs(allDocsOptions(req.query as Query, objectBody(req.body))), bool(req.query as Query, 'update_seq'));
  });

  // CouchDB lists local documents without totals (`null`), since they are not counted.
  const localWire = (rows: unknown[]) => ({ total_rows: null, offset: null, rows });
  app.get('/:db/_local_docs', async (req) => {
    const db = await dbOf(ctx, req);
    return localWire(await db.localDocs(allDocsOptions(req.query as Query)));
  });
  app.post('/:db/_local_docs', async (req) => {
    const db = await dbOf(ctx, req);
    return localWire(await db.localDocs(allDocsOptions(req.query as Query, objectBody(req.body))));
  });

  app.post('/:db/_bulk_docs', async (req, reply) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    if (!Array.isArray(body.docs)) throw new RefugeError('bad_request', 'POST body must include `docs` parameter.');
    if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean') {
      throw new RefugeError('bad_request', '`new_edits` parameter must be a boolean.');
    }
    const newEdits = body.new_edits !== false;
    // As CouchDB: a malformed document (not an object, bad id, bad special field) fails the whole
    // request with nothing written; conflicts and the like stay per-document results.
    for (const doc of body.docs) {
      try {
        splitDoc(doc);
      } catch (err) {
        if (isRefugeError(err) && err.status === 400) throw err;
      }
    }
    const results = await db.bulkDocs(body.docs, { newEdits, userCtx: req.user });
    reply.code(201);
    return bulkDocsWire(results, newEdits);
  });

  app.post('/:db/_bulk_get', async (req) => {
    const db = await dbOf(ctx, req);
    const body = objectBody(req.body);
    if (!Array.isArray(body.docs)) throw new RefugeError('bad_request', 'Missing JSON list of `docs`.');
    const q = req.query as Query;
    return db.bulkGet(body.docs as BulkGetRequest[], { revs: bool(q, 'revs'), latest: bool(q, 'latest'), attachments: bool(q, 'attachments') });
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
