// What document writes over HTTP share: the body check with CouchDB's words, and `batch=ok`
// (CouchDB's "accepted, maybe not saved": 202 with the id only, a conflict not reported).

import type { FastifyReply } from 'fastify';
import type { Database, Doc, UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';

export function documentBody(body: unknown): Doc {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new RefugeError('bad_request', 'Document must be a JSON object');
  return body as Doc;
}

/**
 * CouchDB's `max_document_size`: a document whose JSON (attachments aside: they have their own
 * limits) is larger refuses the whole request with 413, its id as the reason, as CouchDB 3 answers;
 * a replicator halves its batch until it finds that document and skips it. A request body no larger
 * than the limit cannot hold such a document, so most requests are not measured at all.
 */
export function checkDocumentSizes(docs: readonly unknown[], limit: number, contentLength: string | undefined): void {
  if (contentLength !== undefined && Number(contentLength) <= limit) return;
  for (const doc of docs) {
    if (doc === null || typeof doc !== 'object') continue;
    const { _attachments: _, ...rest } = doc as Doc;
    if (Buffer.byteLength(JSON.stringify(rest)) > limit) {
      throw new RefugeError('document_too_large', typeof rest._id === 'string' ? rest._id : '');
    }
  }
}

export async function batchWrite(
  db: Database,
  doc: Doc,
  userCtx: UserCtx,
  reply: FastifyReply,
  location?: (id: string) => string,
  newEdits = true,
): Promise<{ ok: true; id: string }> {
  let id = doc._id ?? '';
  try {
    id = (await db.put(doc, { userCtx, newEdits })).id;
  } catch (err) {
    if (!isRefugeError(err, 'conflict')) throw err;
  }
  reply.code(202);
  if (location && id) reply.header('Location', location(id));
  return { ok: true, id };
}
