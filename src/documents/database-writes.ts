// The write side of a database: bulk writes (replicated or not), single puts and removals, COPY,
// attachment edits and local documents, all queued on the single Writer.

import { RefugeError, conflict, isRefugeError, toRefugeError } from '../errors/index.ts';
import { copyOf, editOf, prepareBulkAttachments, withAttachment, withoutAttachment } from './attachment-edits.ts';
import { sleep } from '../platform/sleep.ts';
import { AttachmentBytes, attachmentStubs, checkAttachmentName, checkContentType, type AttInputs } from './attachments.ts';
import { writeContext } from './hooks.ts';
import { DatabaseMaintenance } from './database-maintenance.ts';
import { validateLocalDoc, writeLocal } from './local-docs.ts';
import type { Rev } from './rev-tree.ts';
import type { BulkDocsOptions, Doc, GetOptions, WriteFailure, WriteResult } from './types.ts';
import { editEarly } from './edits.ts';
import { newDocIds } from './ids.ts';
import { checkBooleanOptions, checkLongIds, validateDocId } from './validate.ts';
import { failureError, isWriteFailure, writeFailure } from './write-failure.ts';

/** How long a bulk write computes before it lets other work run (see submitDocs). */
const SLICE_MS = 50;

const hasAttachments = (d: unknown): boolean => d !== null && typeof d === 'object' && (d as Doc)._attachments != null;

/** Adds to `ids` the blobs this write stored for its new attachments (not those it kept). */
function addNewBlobs(atts: AttInputs, ids: Set<string>): Set<string> {
  for (const att of Object.values(atts)) if (att.kind === 'new') ids.add(att.digest);
  return ids;
}

/**
 * The blobs attachments of documents not written were stored as (all of them when the write
 * failed whole): named by nothing, unless another document names the same bytes. A document
 * refused before its attachments were prepared (validate_doc_update) names those a streamed or
 * multipart body stored already, as bytes of a known blob.
 */
function unwrittenAttachments(
  docs: readonly unknown[],
  prepared: ReadonlyArray<AttInputs | WriteFailure | undefined>,
  results: ReadonlyArray<WriteResult | WriteFailure> | undefined,
): Set<string> {
  const ids = new Set<string>();
  prepared.forEach((p, i) => {
    if (p === undefined || (results && !('error' in results[i]!))) return;
    if (!isWriteFailure(p)) {
      addNewBlobs(p, ids);
      return;
    }
    const atts = (docs[i] as Doc | null)?._attachments;
    if (atts === null || typeof atts !== 'object') return;
    for (const att of Object.values(atts as Record<string, { data?: unknown }>)) {
      if (att?.data instanceof AttachmentBytes && att.data.id !== undefined) ids.add(att.data.id);
    }
  });
  return ids;
}

const isLocalDoc = (d: unknown): d is Doc & { _id: string } =>
  d !== null && typeof d === 'object' && typeof (d as Doc)._id === 'string' && (d as Doc)._id!.startsWith('_local/');

const isPlainObject = (d: object): boolean => {
  const proto = Object.getPrototypeOf(d);
  return proto === Object.prototype || proto === null;
};

/**
 * The documents, each without an `_id` given a new one (a copy: the caller's object is left as it
 * was), before anything judges them: validate_doc_update sees the id, and a refusal names it, as
 * CouchDB's chttpd gives the id before the update.
 */
function withIds(docs: readonly unknown[]): readonly unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < docs.length; i++) {
    const d = docs[i];
    // Only plain objects: any other is refused as it is later (a copy would pass a Date or a Map off as JSON).
    if (d === null || typeof d !== 'object' || (d as Doc)._id !== undefined || !isPlainObject(d)) continue;
    (out ??= docs.slice())[i] = { ...d, _id: newDocIds.next() };
  }
  return out ?? docs;
}

export abstract class DatabaseWrites extends DatabaseMaintenance {
  abstract get(id: string, options?: GetOptions): Promise<Doc>;

  // ---- writes ----

  bulkDocs(docs: readonly unknown[], options: BulkDocsOptions = {}): Promise<Array<WriteResult | WriteFailure>> {
    return this.started(() => this.bulkDocsStarted(docs, options));
  }

  private async bulkDocsStarted(docs: readonly unknown[], options: BulkDocsOptions): Promise<Array<WriteResult | WriteFailure>> {
    if (!Array.isArray(docs)) throw new RefugeError('bad_request', 'docs must be an array');
    checkBooleanOptions(options, ['newEdits']);
    checkLongIds(docs.map((d) => (d !== null && typeof d === 'object' ? (d as Doc)._id : undefined)));
    if (options.newEdits !== false) docs = withIds(docs);
    if (this.prepareWrites) docs = await this.prepareWrites(docs, writeContext(options));
    // `_local/` documents may come in a bulk write too, as CouchDB takes them: each is a putLocal.
    if (docs.some(isLocalDoc)) return this.bulkWithLocal(docs, options);
    const newEdits = options.newEdits !== false;
    const checking = this.checkWrites(docs, options);
    const refused = checking === undefined ? undefined : await checking;
    // Attachment bytes go to the blob store before the write is queued (blob I/O never runs
    // inside the writer); a document whose attachments are invalid fails alone.
    const prepared = docs.some(hasAttachments) ? await prepareBulkAttachments(docs, refused, this.options.blobs, newEdits) : (refused ?? []);
    return this.writePrepared(docs, newEdits, prepared);
  }

  private async bulkWithLocal(docs: readonly unknown[], options: BulkDocsOptions): Promise<Array<WriteResult | WriteFailure>> {
    const others = docs.filter((d) => !isLocalDoc(d));
    const written = others.length > 0 ? await this.bulkDocsStarted(others, options) : [];
    let k = 0;
    const out: Array<WriteResult | WriteFailure> = [];
    for (const d of docs) {
      if (!isLocalDoc(d)) {
        out.push(written[k++]!);
        continue;
      }
      try {
        out.push(await this.putLocal(d));
      } catch (err) {
        const e = toRefugeError(err);
        if (e.code === 'internal' || e.code === 'closed') throw e;
        out.push(writeFailure(d._id, e));
      }
    }
    return out;
  }

  /** Writes documents whose attachments are prepared (stored as blobs) and whose checks passed. */
  private async writePrepared(docs: readonly unknown[], newEdits: boolean, prepared: Array<AttInputs | WriteFailure | undefined>): Promise<Array<WriteResult | WriteFailure>> {
    const touchesDesign = docs.some((d) => d !== null && typeof d === 'object' && typeof (d as Doc)._id === 'string' && (d as Doc)._id!.startsWith('_design/'));
    let results: Array<WriteResult | WriteFailure> | undefined;
    try {
      results = await this.submitDocs(docs, newEdits, prepared);
      return results;
    } finally {
      if (touchesDesign) this.hooks.designWritten?.();
      if (this.dropsWatched) this.revisionsDropped(unwrittenAttachments(docs, prepared, results));
    }
  }

  /**
   * CouchDB's COPY: the body and attachments of `source` (its winner, or `rev`) written as `dest`
   * (a new document, or a new revision of `destRev`). Attachments are not copied byte by byte: the
   * copy refers to the same blobs.
   */
  async copy(source: string, dest: string, options: BulkDocsOptions & { rev?: Rev; destRev?: Rev } = {}): Promise<WriteResult> {
    this.check();
    return this.started(() => this.copyStarted(source, dest, options));
  }

  private async copyStarted(source: string, dest: string, options: BulkDocsOptions & { rev?: Rev; destRev?: Rev }): Promise<WriteResult> {
    if (typeof dest !== 'string' || dest === '') throw new RefugeError('bad_request', 'Destination header is mandatory for COPY.');
    if (source.startsWith('_local/') || dest.startsWith('_local/')) throw new RefugeError('bad_request', 'local documents cannot be copied');
    const copied = copyOf(await this.get(source, options.rev === undefined ? {} : { rev: options.rev }), dest, options.destRev);
    const atts = copied.atts;
    // The copy is a write like any: `_users` hashes a password it carries.
    const doc = this.prepareWrites ? ((await this.prepareWrites([copied.doc], writeContext(options)))[0] as Doc) : copied.doc;
    const refused = (await this.checkWrites([doc], options))?.[0];
    if (refused) throw failureError(refused);
    const [result] = await this.writePrepared([doc], true, [atts]);
    if ('error' in result!) throw failureError(result);
    return result!;
  }

  private submitDocs(docs: readonly unknown[], newEdits: boolean, prepared: Array<AttInputs | WriteFailure | undefined>): Promise<Array<WriteResult | WriteFailure>> {
    return this.writer.submit(async (batch) => {
      const ids: string[] = [];
      for (const d of docs) if (d && typeof (d as Doc)._id === 'string') ids.push((d as Doc)._id!);
      const loading = batch.preload(ids);
      // While storage reads the records (a bulk write's on the engine's own thread), documents
      // named without a rev are checked and hashed as new ones.
      const early = newEdits ? docs.map((d, i) => (prepared[i] === undefined ? editEarly(d) : undefined)) : undefined;
      await loading;
      const out: Array<WriteResult | WriteFailure> = [];
      // Timed only for a write long enough to be sliced: a single put does not read the clock.
      let sliceStart = docs.length > 64 ? performance.now() : 0;
      for (let i = 0; i < docs.length; i++) {
        // A long bulk write (huge documents, thousands of conflicts of one) lets the event loop
        // serve other requests now and then instead of freezing the node until it is done; the
        // batch stays unseen until it is whole, so nothing partial is ever read.
        if ((i & 63) === 63 && performance.now() - sliceStart > SLICE_MS) {
          await sleep(0);
          sliceStart = performance.now();
        }
        const p = prepared[i];
        if (isWriteFailure(p)) out.push(p);
        else {
          const written = batch.write(docs[i], newEdits, p as AttInputs | undefined, early?.[i]);
          out.push(written instanceof Promise ? await written : written);
        }
      }
      return out;
    });
  }

  /** Writes one document; failures throw (conflict, bad_request, doc_validation, ...). */
  async put(doc: Doc, options: BulkDocsOptions = {}): Promise<WriteResult> {
    if (typeof doc?._id === 'string' && doc._id.startsWith('_local/')) {
      // The database's own rules see local documents too (a system database may refuse them).
      return this.putLocal(this.prepareWrites ? ((await this.prepareWrites([doc], writeContext(options)))[0] as Doc) : doc);
    }
    const [result] = await this.bulkDocs([doc], options);
    if ('error' in result!) throw failureError(result);
    return result!;
  }

  /** Deletes the given revision (a tombstone that replicates). */
  async remove(id: string, rev: Rev, options: BulkDocsOptions = {}): Promise<WriteResult> {
    if (typeof id === 'string' && id.startsWith('_local/')) return this.removeLocal(id, rev);
    if (typeof rev !== 'string') throw conflict();
    return this.put({ _id: id, _rev: rev, _deleted: true }, options);
  }


  /**
   * Adds or replaces one attachment (bytes stored as a blob); a new document when it has none.
   * `maxSize` refuses larger bytes (too_large) before any is stored; `userCtx` is the writer the
   * write checks (validate_doc_update, design documents) see, as for any write.
   */
  async putAttachment(
    docId: string,
    name: string,
    rev: Rev | undefined,
    bytes: Uint8Array | AsyncIterable<Uint8Array>,
    contentType = 'application/octet-stream',
    options: { maxSize?: number } & Pick<BulkDocsOptions, 'userCtx'> = {},
  ): Promise<WriteResult> {
    this.check();
    if (!this.options.blobs) throw new RefugeError('not_implemented', 'this database has no blob store for attachments');
    // Checked before the bytes go to the blob store: a write refused after would leave them unreferenced.
    if (validateDocId(docId).startsWith('_local/')) throw new RefugeError('bad_request', 'Local documents do not take attachments');
    checkAttachmentName(name);
    if (typeof contentType !== 'string') throw new RefugeError('bad_request', `content_type of attachment ${name} must be a string`);
    checkContentType(name, contentType);
    const blobs = this.options.blobs;
    return this.started(async () => {
      const base: Doc = rev === undefined ? await this.newDocFor(docId) : await this.revToEdit(docId, rev);
      const put = await blobs.put(bytes, options.maxSize === undefined ? {} : { maxSize: options.maxSize });
      return this.writeWith(base, rev, withAttachment(base, name, put, contentType), options);
    });
  }

  async removeAttachment(docId: string, name: string, rev: Rev, options: Pick<BulkDocsOptions, 'userCtx'> = {}): Promise<WriteResult> {
    this.check();
    return this.started(async () => {
      const base = await this.revToEdit(docId, rev);
      return this.writeWith(base, rev, withoutAttachment(base, name), options);
    });
  }

  /**
   * The base of an attachment put without a revision: a new document. One that exists is a
   * conflict, told before the bytes go to the blob store (as an edit of an older revision is).
   */
  private async newDocFor(docId: string): Promise<Doc> {
    const existing = await this.get(docId).catch((err: unknown) => {
      if (isRefugeError(err, 'not_found')) return undefined;
      throw err;
    });
    if (existing !== undefined) throw conflict();
    return { _id: docId };
  }

  /**
   * The revision an attachment edit extends. One this document does not have is CouchDB 2+'s
   * 409 `{"error":"not_found","reason":"missing_rev"}` (a conflict in status, a missing rev in name).
   */
  private async revToEdit(docId: string, rev: Rev): Promise<Doc> {
    let doc: Doc;
    try {
      // `latest`: the leaf the revision leads to, itself when it is one.
      doc = await this.get(docId, { rev, latest: true });
    } catch (err) {
      if (isRefugeError(err, 'not_found')) throw new RefugeError('not_found', 'missing_rev', { status: 409, cause: err });
      throw err;
    }
    // An edit of an older revision is a conflict, told before an attachment's bytes go to the blob
    // store: the write refused after left them there unreferenced.
    if (doc._rev !== rev) throw conflict();
    return doc;
  }

  private async writeWith(base: Doc, rev: Rev | undefined, atts: AttInputs, options: Pick<BulkDocsOptions, 'userCtx'>): Promise<WriteResult> {
    const doc = editOf(base, rev);
    let written = false;
    try {
      const refused = await this.checkWrites([{ ...doc, _attachments: attachmentStubs(atts, base._attachments) }], options);
      if (refused?.[0]) throw failureError(refused[0]);
      const result = await this.writer
        .submit(async (batch) => batch.write(doc, true, Object.keys(atts).length ? atts : undefined))
        .finally(() => {
          if (doc._id!.startsWith('_design/')) this.hooks.designWritten?.();
        });
      if ('error' in result) throw failureError(result);
      written = true;
      return result;
    } finally {
      // An upload stored its bytes before this write was judged (refused by validate_doc_update,
      // or a conflict with a write that landed while they streamed in): named by nothing then.
      if (!written && this.dropsWatched) this.revisionsDropped(addNewBlobs(atts, new Set()));
    }
  }

  // ---- local documents ----

  async putLocal(doc: Doc): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc(doc);
    // `_deleted: true` deletes it, as in CouchDB (rev 0-0).
    return this.writer.submit((batch) => writeLocal(batch, d, d._deleted === true ? 'put' : false));
  }

  async removeLocal(id: string, rev?: string): Promise<WriteResult> {
    this.check();
    const d = validateLocalDoc({ _id: id, _rev: rev, _deleted: true });
    return this.writer.submit((batch) => writeLocal(batch, d, 'delete'));
  }
}
