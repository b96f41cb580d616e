// CouchDB's attachment upload form: `POST /{db}/{docid}` as multipart/form-data (what Futon sent).
// Each file of an `_attachments` field becomes an attachment, under its file name, of a new revision
// of the `_rev` field's revision (or of the document in a `_doc` JSON field); the others are kept.
// A page on any site can send a form without asking, so as in CouchDB the Referer must name this
// server: a cross-site form (whose Referer is that site, or absent) writes nothing.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Doc } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { checkReferer, dbOf, type ServerContext } from './context.ts';
import { checkDocumentSizes } from './doc-writes.ts';
import { checkLongKeys } from './long-keys.ts';
import { FormUpload } from './multipart.ts';
import { docIdOf } from './routes-docs.ts';

type Req = FastifyRequest<{ Params: { db: string; docid?: string; ddoc?: string; local?: string } }>;


/** The revision the upload extends: the `_doc` field's document, else the `_rev` field's revision. */
async function baseDoc(form: FormUpload, id: string, get: (rev: string) => Promise<Doc>): Promise<Doc> {
  const { _doc: json, _rev: rev } = form.fields;
  if (json !== undefined) {
    let doc: unknown;
    checkLongKeys(json);
    try {
      doc = JSON.parse(json);
    } catch (err) {
      throw new RefugeError('bad_request', 'the _doc field of the form is not JSON', { cause: err });
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new RefugeError('bad_request', 'the _doc field of the form must be a JSON object');
    return { ...(doc as Doc), _id: id };
  }
  if (rev === undefined || rev === '') throw new RefugeError('bad_request', 'the form needs a _rev field (the revision to attach to) or a _doc field');
  return get(rev);
}

export function formUploadRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const upload = async (req: Req, reply: FastifyReply) => {
    checkReferer(req);
    const form = req.body;
    if (!(form instanceof FormUpload)) throw new RefugeError('bad_content_type', 'Content-Type must be multipart/form-data', { status: 415 });
    const db = await dbOf(ctx, req);
    const id = docIdOf(req);
    const base = await baseDoc(form, id, (rev) => db.get(id, { rev }));
    // Stubs of the attachments kept; the uploaded files inline, as a JSON write would carry them.
    const attachments: Record<string, unknown> = { ...(base._attachments as Record<string, unknown> | undefined) };
    for (const file of form.files) {
      if (file.field !== '_attachments') continue;
      attachments[file.filename] = { content_type: file.contentType, data: Buffer.from(file.bytes).toString('base64') };
    }
    const doc: Doc = { ...base };
    // max_document_size, as for any write (the body's length says nothing here: it holds the files).
    checkDocumentSizes([doc], ctx.settings.maxDocumentSize, undefined);
    if (Object.keys(attachments).length > 0) doc._attachments = attachments;
    const r = await db.put(doc, { userCtx: req.user });
    reply.code(201).header('ETag', `"${r.rev}"`);
    return { ok: true, id: r.id, rev: r.rev };
  };
  app.post('/:db/:docid', upload);
  app.post('/:db/_design/:ddoc', upload);
}
