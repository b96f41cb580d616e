// Document endpoints: GET/PUT/DELETE/COPY (HEAD comes with GET) of `/{db}/{docid}`, also under `_design/` and `_local/`,
// with CouchDB's query options, ETags and If-Match, attachments streamed to and from blobs, and
// CouchDB's multipart forms (multipart.ts) where a client asks for them.

import { attachmentHeaders, SANDBOXED_CONTENT } from './sandboxed-content.ts';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RefugeError } from '../errors/index.ts';
import type { ByteRange } from '../blobs/index.ts';
import { isValidRev, servedContentType, type Doc, type GetOptions } from '../documents/index.ts';
import { etagMatches, headersOnly, ifRangeHolds, notModified, planAttachmentRange, withUnsatisfiable } from './blob-range.ts';
import { checkDeclaredLength, withBody } from './blob-body.ts';
import { byteranges, planSomeRanges } from './byteranges.ts';
import { attachmentPath, docPath } from '../replication/index.ts';
import { absoluteUrl, dbOf, type ServerContext } from './context.ts';
import { batchWrite, checkDocumentSizes, copyDestination, documentBody } from './doc-writes.ts';
import { decodedStream } from './content-encoding.ts';
import { docEtag, localEtag } from './doc-etag.ts';
import { accepts, docRelated, openRevsMixed } from './multipart.ts';
import { readRelatedDoc, RelatedBody } from './related-upload.ts';
import { md5Checked } from './md5-checked.ts';
import { bodyOf } from './streamed-json.ts';
import { blobSource, checkFollowed } from './followed-blobs.ts';
import { json, jsonStringArray, newEditsParam, str, trueFlag, type Query } from './params.ts';
import { JSON_TYPE, sendChunked } from './json-rows.ts';

type Req = FastifyRequest<{ Params: { db: string; docid?: string; ddoc?: string; local?: string; att?: string } }>;

export function docIdOf(req: Req): string {
  const p = req.params;
  if (p.ddoc !== undefined) return `_design/${p.ddoc}`;
  if (p.local !== undefined) return `_local/${p.local}`;
  return p.docid!;
}

/**
 * CouchDB sends a GET that names a design document with an encoded slash (`_design%2Fx`) to its
 * canonical path with a 301; undefined for every other request.
 */
function designRedirect(req: Req, reply: FastifyReply): FastifyReply | undefined {
  const id = req.params.docid;
  if (id === undefined || !id.startsWith('_design/')) return undefined;
  const rest = (req.params as { '*'?: string })['*'];
  const [, query = ''] = req.url.split('?', 2);
  const path = `/${encodeURIComponent(req.params.db)}/_design/${encodeURIComponent(id.slice(8))}${rest === undefined ? '' : `/${rest.split('/').map(encodeURIComponent).join('/')}`}`;
  return reply.code(301).header('Location', absoluteUrl(req, query ? `${path}?${query}` : path)).send();
}

function getOptions(q: Query): GetOptions {
  const meta = trueFlag(q, 'meta');
  return {
    rev: str(q, 'rev'),
    revs: trueFlag(q, 'revs'),
    revsInfo: trueFlag(q, 'revs_info') || meta,
    conflicts: trueFlag(q, 'conflicts') || meta,
    deletedConflicts: trueFlag(q, 'deleted_conflicts') || meta,
    latest: trueFlag(q, 'latest'),
    localSeq: trueFlag(q, 'local_seq'),
    attachments: trueFlag(q, 'attachments'),
    attsSince: attsSinceParam(q),
  };
}

/** `atts_since`: a JSON array of revisions, each well-formed (CouchDB answers 400 otherwise). */
function attsSinceParam(q: Query): string[] | undefined {
  const revs = jsonStringArray(json(q, 'atts_since'), 'atts_since');
  for (const rev of revs ?? []) if (!isValidRev(rev)) throw new RefugeError('bad_request', 'Invalid rev format');
  return revs;
}

/** The rev a write refers to: ?rev=, If-Match or the body's _rev, which must agree. */
function writeRev(req: Req, bodyRev: unknown): string | undefined {
  const q = req.query as Query;
  const fromQuery = str(q, 'rev');
  const ifMatch = req.headers['if-match']?.replace(/^"|"$/g, '');
  const fromBody = typeof bodyRev === 'string' ? bodyRev : undefined;
  if (ifMatch !== undefined && [fromQuery, fromBody].some((r) => r !== undefined && r !== ifMatch)) {
    throw new RefugeError('bad_request', 'Document rev and etag have different values');
  }
  if (fromQuery !== undefined && fromBody !== undefined && fromQuery !== fromBody) {
    throw new RefugeError('bad_request', 'Document rev from request body and query string have different values');
  }
  return fromQuery ?? ifMatch ?? fromBody;
}

function isEmpty(q: Query): boolean {
  for (const _ in q) return false;
  return true;
}

/** A request body of no bytes. */
async function* noBytes(): AsyncIterable<Uint8Array> {}

export function docRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const get = async (req: Req, reply: FastifyReply) => {
    const redirected = designRedirect(req, reply);
    if (redirected) return redirected;
    const db = await dbOf(ctx, req);
    const id = docIdOf(req);
    const q = req.query as Query;
    const openRevs = str(q, 'open_revs');
    const revs = openRevs === undefined || openRevs === 'all' ? openRevs : json(q, 'open_revs');
    if (revs !== undefined && revs !== 'all' && (!Array.isArray(revs) || !revs.every((r) => typeof r === 'string'))) {
      throw new RefugeError('bad_request', 'open_revs must be "all" or a JSON array of revs');
    }
    // An empty list asks for no revision in particular: a plain read, as CouchDB's db_doc_req takes it.
    if (revs !== undefined && !(Array.isArray(revs) && revs.length === 0)) {
      // Multipart unless the client asks for JSON (PouchDB does), as CouchDB negotiates; its
      // replicator reads each revision with the bytes of its attachments (those newer than
      // atts_since), which a multipart answer always carries.
      const multipart = accepts(req.headers.accept, 'multipart/mixed');
      const options = getOptions(q);
      // Multipart parts carry the bytes streamed from the blob store, not read into the answer.
      const results = await db.getOpenRevs(id, revs as 'all' | string[], multipart ? { ...options, attachments: true, attachmentsFollow: true } : options);
      // JSON in chunked framing, as CouchDB sends it: PouchDB reads documents this way after a failed
      // _bulk_get, and notices a chunked answer cut short where it waits forever on a sized one (json-rows.ts).
      if (!multipart) return sendChunked(reply, JSON.stringify(results));
      const values = results.map((r) => ('ok' in r ? r.ok : r));
      await checkFollowed(ctx, values);
      const mixed = openRevsMixed(values, blobSource(ctx));
      // Attachments' bytes ride in the parts: sandboxed like the attachments themselves.
      return reply.header('Content-Type', mixed.contentType).headers(SANDBOXED_CONTENT).send(mixed.body);
    }
    if (isEmpty(q) && !id.startsWith('_local/')) {
      // A plain GET (most of them): the stored body goes out as it is stored, never parsed.
      const { json: text, rev } = await db.getJson(id);
      const etag = `"${rev}"`;
      if (etagMatches(req.headers['if-none-match'], etag)) return notModified(reply, etag);
      return reply.header('ETag', etag).type(JSON_TYPE).send(text);
    }
    const options = getOptions(q);
    const withData = options.attachments === true || options.attsSince !== undefined;
    // The attachments' bytes follow the JSON instead of sitting in it as base64, streamed.
    const related = withData && accepts(req.headers.accept, 'multipart/related');
    const doc = await db.get(id, related ? { ...options, attachmentsFollow: true } : options);
    const etag = docEtag(doc);
    if (etag !== undefined) {
      if (etagMatches(req.headers['if-none-match'], etag)) return notModified(reply, etag);
      reply.header('ETag', etag);
    }
    if (related && doc._attachments !== undefined) {
      await checkFollowed(ctx, [doc]);
      const answer = docRelated(doc, blobSource(ctx));
      return reply.header('Content-Type', answer.contentType).headers(SANDBOXED_CONTENT).send(answer.body);
    }
    return doc;
  };

  const relatedDoc = (body: RelatedBody) =>
    readRelatedDoc(body, { json: ctx.settings.bodyLimit, blob: ctx.settings.blobLimit }, ctx.node.blobs);

  const put = async (req: Req, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const id = docIdOf(req);
    const q = req.query as Query;
    // The URL names the document, whatever `_id` the body says, as in CouchDB.
    const body = documentBody(req.body instanceof RelatedBody ? await withBody(req, reply, () => relatedDoc(req.body as RelatedBody)) : await bodyOf(ctx, req, reply));
    const rev = writeRev(req, body._rev);
    const doc: Doc = { ...body, _id: id };
    checkDocumentSizes([doc], ctx.settings.maxDocumentSize, req.headers['content-length']);
    if (rev !== undefined) doc._rev = rev;
    const location = absoluteUrl(req, `/${encodeURIComponent(req.params.db)}/${docPath(id)}`);
    const newEdits = newEditsParam(q);
    if (str(q, 'batch') === 'ok') return batchWrite(db, doc, req.user, reply, () => location, newEdits);
    const r = await db.put(doc, { newEdits, userCtx: req.user });
    // A write that deletes is 200, as CouchDB answers it (and a DELETE).
    reply.code(doc._deleted === true ? 200 : 201).header('ETag', id.startsWith('_local/') ? localEtag(r.rev, doc) : `"${r.rev}"`).header('Location', location);
    return { ok: true, id: r.id, rev: r.rev };
  };

  const del = async (req: Req, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const id = docIdOf(req);
    // As CouchDB: a document that does not exist (or is deleted) is a 404 before any rev check.
    await db.get(id);
    const rev = writeRev(req, undefined);
    // A local document is deleted whatever revision is named, or none (CouchDB 2+).
    if (rev === undefined && !id.startsWith('_local/')) throw new RefugeError('conflict', 'Document update conflict.');
    const r = id.startsWith('_local/') ? await db.removeLocal(id, rev) : await db.remove(id, rev!, { userCtx: req.user });
    reply.header('ETag', `"${r.rev}"`);
    return { ok: true, id: r.id, rev: r.rev };
  };

  // COPY /{db}/{doc} with `Destination: {id}` or `{id}?rev={rev}` (to overwrite that revision).
  const copy = async (req: Req, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const { id: dest, rev: destRev } = copyDestination(req.headers.destination);
    // The source revision: ?rev= or If-Match, which must agree (CouchDB reads both).
    const rev = writeRev(req, undefined);
    const r = await db.copy(docIdOf(req), dest, { userCtx: req.user, ...(rev !== undefined && { rev }), ...(destRev !== undefined && { destRev }) });
    reply.code(201).header('ETag', `"${r.rev}"`).header('Location', absoluteUrl(req, `/${encodeURIComponent(req.params.db)}/${docPath(r.id)}`));
    return { ok: true, id: r.id, rev: r.rev };
  };

  // `_local` without a name, or with more path after it, names no document: CouchDB's bad_request.
  const badLocal = (reason: string) => async () => {
    throw new RefugeError('bad_request', reason);
  };
  app.route({ method: ['GET', 'HEAD', 'PUT', 'DELETE', 'COPY'], url: '/:db/_local', handler: badLocal('Invalid _local document id.') });
  for (const path of ['/:db/:docid', '/:db/_design/:ddoc', '/:db/_local/:local']) {
    app.get(path, get);
    app.put(path, put);
    app.delete(path, del);
    app.route({ method: 'COPY', url: path, handler: copy });
  }

  const attName = (req: Req) => (req.params as unknown as { '*': string })['*'];

  const getAtt = async (req: Req, reply: FastifyReply) => {
    const redirected = designRedirect(req, reply);
    if (redirected) return redirected;
    const db = await dbOf(ctx, req);
    // A single `bytes=` range is served as CouchDB does (206), unless If-Range names other bytes;
    // several are parts of a multipart answer, read from the blob store after the headers.
    let ranged = false;
    let parts: Array<Required<ByteRange>> | undefined;
    const range = (stub: { digest: string; length: number }) => {
      const header = ifRangeHolds(req.headers['if-range'], `"${stub.digest}"`) ? req.headers.range : undefined;
      const planned = withUnsatisfiable(reply, stub.length, () => planSomeRanges(header, stub.length, planAttachmentRange));
      parts = planned.parts;
      ranged = planned.range !== undefined;
      return planned.range;
    };
    const { stub, read } = await db.getAttachment(docIdOf(req), attName(req), { rev: str(req.query as Query, 'rev'), range });
    const etag = `"${stub.digest}"`;
    // Nothing is opened until the read is iterated, so an unused one needs no release.
    if (etagMatches(req.headers['if-none-match'], etag)) return notModified(reply, etag);
    const headers = attachmentHeaders(servedContentType(stub.content_type));
    reply.headers(headers).header('ETag', etag).header('Accept-Ranges', 'bytes');
    if (parts !== undefined) {
      const answer = byteranges(parts, read.size, headers['Content-Type']!, (r) => ctx.node.blobs.get(stub.digest as never, r));
      // The parts hold the attachment's bytes: sandboxed as they are, a PDF's too.
      reply.code(206).headers(SANDBOXED_CONTENT).header('Content-Type', answer.contentType).header('Content-Length', String(answer.length));
      return req.method === 'HEAD' ? headersOnly(reply) : reply.send(Readable.from(answer.body));
    }
    reply.header('Content-Length', String(read.end - read.start));
    // A satisfiable range is a 206 even when it spans every byte, as CouchDB answers (attachment_ranges).
    if (ranged || read.start !== 0 || read.end !== read.size) {
      reply.code(206).header('Content-Range', `bytes ${read.start}-${read.end - 1}/${read.size}`);
    }
    if (req.method === 'HEAD') return headersOnly(reply);
    // Bytes are verified against the digest as they stream (the blob store holds back the end).
    return reply.send(Readable.from(read));
  };

  const putAtt = async (req: Req, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const rev = writeRev(req, undefined);
    const type = req.headers['content-type'] ?? 'application/octet-stream';
    const md5 = req.headers['content-md5'];
    // Without a Content-Type or a body, Fastify parses nothing: an empty attachment, as CouchDB stores it.
    const body = (req.body as AsyncIterable<Uint8Array> | undefined) ?? noBytes();
    const bytes = typeof md5 === 'string' ? md5Checked(body, md5) : body;
    // Attachments are blobs: the blob limit holds for them as for /_blobs (a refused body is not read).
    const r = await withBody(req, reply, () => {
      checkDeclaredLength(req, ctx.settings.blobLimit);
      return db.putAttachment(docIdOf(req), attName(req), rev, bytes, type, { maxSize: ctx.settings.blobLimit, userCtx: req.user });
    });
    const path = `/${encodeURIComponent(req.params.db)}/${docPath(r.id)}/${attachmentPath(attName(req))}`;
    reply.code(201).header('ETag', `"${r.rev}"`).header('Location', absoluteUrl(req, path));
    return { ok: true, id: r.id, rev: r.rev };
  };

  const delAtt = async (req: Req, reply: FastifyReply) => {
    const db = await dbOf(ctx, req);
    const rev = writeRev(req, undefined);
    if (rev === undefined) {
      // CouchDB first looks for what is to be deleted: a missing or deleted document, or a missing
      // attachment, is its 404; only an attachment that is there, deleted without a rev, conflicts.
      const current = await db.get(docIdOf(req));
      const atts = current._attachments as Record<string, unknown> | undefined;
      if (atts === undefined || !Object.hasOwn(atts, attName(req))) throw new RefugeError('not_found', 'Document is missing attachment');
      throw new RefugeError('conflict', 'Document update conflict.');
    }
    const r = await db.removeAttachment(docIdOf(req), attName(req), rev, { userCtx: req.user });
    reply.header('ETag', `"${r.rev}"`);
    return { ok: true, id: r.id, rev: r.rev };
  };

  // Attachment bodies are any media type and stream straight into the blob store.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (req, payload, done) => {
      try {
        done(null, decodedStream(req.headers, payload));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    for (const path of ['/:db/:docid/*', '/:db/_design/:ddoc/*']) {
      scope.get(path, getAtt);
      scope.put(path, putAtt);
      scope.delete(path, delAtt);
    }
    // Here, so that an attachment's media type meets the same 400 as any other, not a 415.
    scope.route({ method: ['GET', 'HEAD', 'PUT', 'DELETE', 'COPY'], url: '/:db/_local/:local/*', handler: badLocal('_local documents do not accept attachments.') });
  });
}
