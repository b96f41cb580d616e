// What document writes over HTTP share: the body check with CouchDB's words, and `batch=ok`
// (CouchDB's "accepted, maybe not saved": 202 with the id only, a conflict not reported).

import type { FastifyReply } from 'fastify';
import type { Database, Doc, UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';

export function documentBody(body: unknown): Doc {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RefugeError('bad_request', 'Document must be a JSON object');
  return body as Doc;
}

export async function batchWrite(
  db: Database,
  doc: Doc,
  userCtx: UserCtx,
  reply: FastifyReply,
  location?: (id: string) => string,
): Promise<{ ok: true; id: string }> {
  let id = doc._id ?? '';
  try {
    id = (await db.put(doc, { userCtx })).id;
  } catch (err) {
    if (!isRefugeError(err, 'conflict')) throw err;
  }
  reply.code(202);
  if (location && id) reply.header('Location', location(id));
  return { ok: true, id };
}
