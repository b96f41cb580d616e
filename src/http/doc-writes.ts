// What document writes over HTTP share: the body check with CouchDB's words, and `batch=ok`
// (CouchDB's "accepted, maybe not saved": 202 with the id only, a conflict not reported).

import type { FastifyReply } from 'fastify';
import { isValidRev, type Database, type Doc, type UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * COPY's `Destination` as CouchDB reads it (chttpd_util:parse_copy_destination_header): the
 * header's bytes are the id as they are, UTF-8 and never percent-decoded (`100%25` names
 * `100%25`), and a `?key=rev` after it names the revision of the destination to overwrite.
 */
export function copyDestination(header: string | string[] | undefined): { id: string; rev?: string } {
  if (typeof header !== 'string' || header === '') throw new RefugeError('bad_request', 'Destination header is mandatory for COPY.');
  if (/^https?:\/\//.test(header)) throw new RefugeError('bad_request', 'Destination URL must be relative.');
  let value: string;
  try {
    // Node hands header values over as latin1, one char per byte: back to the bytes, then UTF-8.
    value = utf8.decode(Buffer.from(header, 'latin1'));
  } catch (err) {
    throw new RefugeError('illegal_docid', 'Document id must be valid UTF-8', { cause: err });
  }
  const [id, query, ...more] = value.split('?') as [string, string?, ...string[]];
  if (query === undefined) return { id };
  // CouchDB matches exactly `id?key=rev` (and crashes on anything else): the key is not read.
  const pair = query.split('=');
  if (more.length > 0 || pair.length !== 2) throw new RefugeError('bad_request', 'Destination must be a document id, with ?rev=<rev> after it or nothing');
  if (!isValidRev(pair[1])) throw new RefugeError('bad_request', 'Invalid rev format');
  return { id, rev: pair[1] };
}

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
