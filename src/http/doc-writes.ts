// What document writes over HTTP share: the body check with CouchDB's words, and `batch=ok`
// (CouchDB's "accepted, maybe not saved": 202 with the id only, a conflict not reported).

import type { FastifyReply } from 'fastify';
import { isValidRev, type Database, type Doc, type UserCtx } from '../documents/index.ts';
import { RefugeError, isRefugeError } from '../errors/index.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * COPY's `Destination` as CouchDB reads it (chttpd_db's COPY: parse_copy_destination_header, then
 * chttpd:unquote of the id): a `?key=rev` after the id names the revision of the destination to
 * overwrite, and the id is percent-decoded, as Fauxton's "Clone document" encodes it
 * (`encodeURIComponent`). A `%` not followed by two hex digits stays itself, as mochiweb's unquote
 * keeps it; a `+` stays a `+`, as it does in this server's URL paths (CouchDB's
 * `decode_plus_to_space`, which some clients trip over, is not followed anywhere).
 */
export function copyDestination(header: string | string[] | undefined): { id: string; rev?: string } {
  if (typeof header !== 'string' || header === '') throw new RefugeError('bad_request', 'Destination header is mandatory for COPY.');
  if (/^https?:\/\//.test(header)) throw new RefugeError('bad_request', 'Destination URL must be relative.');
  // Node hands header values over as latin1, one char per byte: the split is on the raw `?`, so an
  // encoded one (%3F) stays in the id.
  const [rawId, query, ...more] = header.split('?') as [string, string?, ...string[]];
  let id: string;
  try {
    id = utf8.decode(unquote(Buffer.from(rawId, 'latin1')));
  } catch (err) {
    throw new RefugeError('illegal_docid', 'Document id must be valid UTF-8', { cause: err });
  }
  if (query === undefined) return { id };
  // CouchDB matches exactly `id?key=rev` (and crashes on anything else): the key is not read.
  const pair = query.split('=');
  if (more.length > 0 || pair.length !== 2) throw new RefugeError('bad_request', 'Destination must be a document id, with ?rev=<rev> after it or nothing');
  if (!isValidRev(pair[1])) throw new RefugeError('bad_request', 'Invalid rev format');
  return { id, rev: pair[1] };
}

const hexValue = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 65 && c <= 70 ? c - 55 : c >= 97 && c <= 102 ? c - 87 : -1);

/** Percent-decoded bytes: `%XX` is the byte XX, any other byte (a lone `%` too) stays itself. */
function unquote(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hi = bytes[i] === 37 && i + 2 < bytes.length ? hexValue(bytes[i + 1]!) : -1;
    const lo = hi >= 0 ? hexValue(bytes[i + 2]!) : -1;
    if (lo >= 0) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else out[n++] = bytes[i]!;
  }
  return out.subarray(0, n);
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
