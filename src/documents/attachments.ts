// Document attachments, stored as blobs: the document keeps only CouchDB's stub (content_type,
// digest = blob id, length, revpos), so the same bytes attached anywhere are stored once. Inline
// base64 is turned into blobs before a write is queued; stubs are resolved against the revision
// being edited inside the writer.

import { base64ToBytes, bytesToBase64 } from '#platform/base64';
import { RefugeError, isRefugeError } from '../errors/index.ts';
import { collectBytes, isBlobId, type BlobId, type BlobStore } from '../blobs/core.ts';
import type { DocRecord } from './doc-record.ts';
import { localParent } from './edits.ts';
import { parseRev, revGeneration } from './rev-tree.ts';
import type { JsonObject } from './types.ts';
import { isWellFormedUtf16, type SplitDoc } from './validate.ts';

/** What a stored revision keeps per attachment. */
export interface AttStub {
  content_type: string;
  digest: string;
  length: number;
  revpos: number;
  stub: true;
}

/** An attachment as a write carries it after inline data went to the blob store. */
export type AttInput =
  | { kind: 'new'; content_type: string; digest: string; length: number; revpos?: number }
  /** `revpos` when the stub names one: it must be the stored attachment's (CouchDB's merge_stubs). */
  | { kind: 'stub'; revpos?: number };

export type AttInputs = Record<string, AttInput>;

/**
 * An attachment's `data` as bytes to read when written, in place of base64: what a replication
 * source hands on (a database's attachments as `attachmentBytes` read them, the blobs a mesh pull
 * fetched) and what a multipart upload streamed into the blob store. A write whose store already
 * holds `id` (a replication between databases of one node) names the blob without reading it; any
 * other reads it through `open` into its store, verified against `id` when there is one. A class,
 * not JSON: a client cannot name, and so attach, blobs it did not send.
 */
export class AttachmentBytes {
  constructor(
    readonly size: number,
    readonly open: () => Promise<AsyncIterable<Uint8Array>>,
    /** The blob id (SHA-256) of the bytes, when known. */
    readonly id?: string,
  ) {}

  /** The bytes of blob `id` in `store`. */
  static ofBlob(store: BlobStore, id: string, size: number): AttachmentBytes {
    return new AttachmentBytes(size, () => store.get(id as BlobId), id);
  }

  /**
   * Stores the bytes in `store` (attachment `name`'s), or only names them when it holds them
   * already: renewed as a store of the same bytes would be, so gc does not sweep them before the
   * write that names them is committed.
   */
  async storeIn(store: BlobStore, name: string): Promise<{ id: BlobId; size: number }> {
    const id = this.id !== undefined && isBlobId(this.id) ? this.id : undefined;
    if (id !== undefined && (await store.reuse(id))) return { id, size: this.size };
    return store.put(readAttachmentBytes(this, name), id === undefined ? {} : { expectedId: id });
  }
}

/**
 * The bytes of `given` as they are read, a failure to read them told apart from a failure to store
 * them: `unavailable` when the source says so (a link, for now: tried again), else `gone` (its
 * revision replaced and the bytes collected since it was listed: that revision cannot be written,
 * and the one that replaced it comes in a later change).
 */
export async function* readAttachmentBytes(given: AttachmentBytes, name: string): AsyncGenerator<Uint8Array> {
  let chunks: AsyncIterator<Uint8Array>;
  try {
    chunks = (await given.open())[Symbol.asyncIterator]();
  } catch (err) {
    throw readFailure(err, name);
  }
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await chunks.next();
    } catch (err) {
      throw readFailure(err, name);
    }
    if (next.done) return;
    yield next.value;
  }
}

function readFailure(err: unknown, name: string): RefugeError {
  if (isRefugeError(err, 'unavailable')) return new RefugeError('unavailable', `the bytes of attachment ${name} could not be read: ${err.reason}`, { cause: err });
  return new RefugeError('gone', `the bytes of attachment ${name} are gone from the source`, { cause: err });
}

/** CouchDB's rule and words for attachment names (a 400 that fails a whole bulk request). */
export function checkAttachmentName(name: string): void {
  if (typeof name !== 'string') throw new RefugeError('bad_request', 'an attachment name must be a string');
  if (name.startsWith('_')) throw new RefugeError('bad_request', `Attachment name '${name}' starts with prohibited character '_'`);
  if (name === '' || name.includes('\u0000') || !isWellFormedUtf16(name)) throw new RefugeError('bad_request', `Attachment name '${name}' is not valid`);
}

function fail(reason: string): never {
  throw new RefugeError('doc_validation', reason);
}

/** What an HTTP header value may hold (Node's own check): a content type is served as one. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Refuses a content type that cannot be served: a CR or LF would end the header it is sent in (a
 * multipart part's header would take the attacker's next line), and other control or non-Latin-1
 * characters are no header value at all.
 */
export function checkContentType(name: string, contentType: string): void {
  if (!HEADER_VALUE.test(contentType)) throw new RefugeError('bad_request', `content_type of attachment ${name} is not a valid header value`);
}

/** A stored content type as a header may carry it (one stored before the check above is served as bytes). */
export function servedContentType(contentType: unknown): string {
  return typeof contentType === 'string' && HEADER_VALUE.test(contentType) ? contentType : 'application/octet-stream';
}

/** Validates `_attachments` of an incoming document and stores inline data as blobs. */
export async function prepareAttachments(value: unknown, blobs: BlobStore | undefined, newEdits = true): Promise<AttInputs | undefined> {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) fail('_attachments must be an object');
  const out: AttInputs = {};
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    checkAttachmentName(name);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail(`attachment ${name} must be an object`);
    const a = raw as Record<string, unknown>;
    if (a.stub === true) {
      out[name] = Number.isSafeInteger(a.revpos) ? { kind: 'stub', revpos: a.revpos as number } : { kind: 'stub' };
      continue;
    }
    const given = a.data instanceof AttachmentBytes ? a.data : undefined;
    if (a.follows === true && !given) fail(`attachment ${name} is marked follows: its bytes come in a multipart/related body, not in JSON`);
    if (typeof a.data !== 'string' && !given) fail(`attachment ${name} needs base64 data or stub: true`);
    if (a.content_type !== undefined && typeof a.content_type !== 'string') fail(`content_type of ${name} must be a string`);
    // A replicated revision keeps the type it was written with (CouchDB stores any): it is served
    // as bytes when it cannot be a header (servedContentType). A new edit must give a servable one.
    if (newEdits && typeof a.content_type === 'string') checkContentType(name, a.content_type);
    if (!blobs) throw new RefugeError('not_implemented', 'this database has no blob store for attachments');
    const put = given ? await given.storeIn(blobs, name) : await blobs.put(decodeBase64(a.data as string, name));
    out[name] = {
      kind: 'new',
      content_type: (a.content_type as string | undefined) ?? 'application/octet-stream',
      digest: put.id,
      length: put.size,
      // Replicated revisions keep the revpos they were written with.
      revpos: Number.isSafeInteger(a.revpos) && (a.revpos as number) >= 1 ? (a.revpos as number) : undefined,
    };
  }
  return out;
}

/**
 * The stubs of the new revision: new data gets `revpos` = its generation (a replicated revision
 * keeps the revpos it was written with: `keepRevpos`), stubs are copied from the revision edited
 * (`previous`); a stub naming nothing there is CouchDB's `missing_stub`.
 */
export function resolveAttachments(
  inputs: AttInputs | undefined,
  previous: Record<string, AttStub> | undefined,
  generation: number,
  keepRevpos = false,
): Record<string, AttStub> | undefined {
  if (!inputs) return undefined;
  const out: Record<string, AttStub> = {};
  for (const [name, a] of Object.entries(inputs)) {
    if (a.kind === 'new') {
      const revpos = keepRevpos && a.revpos !== undefined ? a.revpos : generation;
      out[name] = { content_type: a.content_type, digest: a.digest, length: a.length, revpos, stub: true };
    } else {
      const prev = previous?.[name];
      // A stub must name an attachment of the revision edited, at its revpos when it gives one.
      if (!prev || (!keepRevpos && a.revpos !== undefined && a.revpos !== prev.revpos)) {
        throw new RefugeError('missing_stub', `Invalid attachment stub in the document for ${name}`);
      }
      out[name] = prev;
    }
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * Attachment stubs of an edit's new revision, resolved against the revision it extends: for a local
 * edit its parent, for a replicated one the nearest stored ancestor in the given history. `bodyOf`
 * reads a stored revision's body (undefined when it is not kept). Undefined when a local edit's
 * parent is not a leaf: the edit itself then reports the conflict.
 */
export async function attachmentsOfEdit(
  current: DocRecord | undefined,
  edit: SplitDoc,
  newEdits: boolean,
  atts: AttInputs,
  bodyOf: (rev: string) => Promise<JsonObject | undefined>,
): Promise<Record<string, AttStub> | undefined> {
  let previous: Record<string, AttStub> | undefined;
  let generation: number;
  if (newEdits) {
    let parent: string | null;
    try {
      parent = localParent(current, edit);
    } catch {
      return undefined;
    }
    generation = parent === null ? 1 : revGeneration(parent) + 1;
    if (parent !== null && current) previous = storedAttachments((await bodyOf(parent)) ?? {});
  } else {
    generation = parseRev(edit.rev).gen;
    const ancestors = edit.revisions ? edit.revisions.ids.slice(1).map((h, i) => `${generation - 1 - i}-${h}`) : [];
    for (const rev of ancestors) {
      if (!current || !current.tree.get(rev)?.available) continue;
      previous = storedAttachments((await bodyOf(rev)) ?? {});
      break;
    }
  }
  return resolveAttachments(atts, previous, generation, !newEdits);
}

/** `name:digest` pairs that go into the revision id, so attachment changes make new revisions. */
/**
 * What a revision id covers of each attachment: its name, content type and digest, as CouchDB's
 * `new_revid` hashes `{Name, Type, Md5}`. The same bytes under another type are another revision,
 * so replication carries the change (or makes a conflict) instead of taking the two for one.
 */
export function attachmentDigests(atts: Record<string, AttStub> | undefined): string[] {
  return atts ? Object.entries(atts).map(([name, a]) => JSON.stringify([name, a.content_type, a.digest])) : [];
}

export function storedAttachments(body: JsonObject): Record<string, AttStub> | undefined {
  return body._attachments as Record<string, AttStub> | undefined;
}

/** The bytes of a stored body's attachments, each counted (CouchDB's sizes count a document's attachments). */
export function attachmentBytes(body: JsonObject): number {
  const atts = body._attachments as Record<string, AttStub> | undefined;
  if (atts === undefined) return 0;
  let total = 0;
  for (const name in atts) {
    const length = atts[name]!.length;
    if (typeof length === 'number') total += length;
  }
  return total;
}

/**
 * How a read gives attachment bytes: inline base64 (`attachments=true`); `follows` stubs with their
 * length, the caller streaming the bytes after the document (a multipart answer); or
 * AttachmentBytes, read only when written (a replication source).
 */
export type AttachmentForm = 'base64' | 'follows' | 'bytes';

/**
 * Replaces stubs with the attachments' bytes in `form`, for those changed after every revision in
 * `attsSince` that the document's history contains (CouchDB's `atts_since`). Only base64 reads
 * them here; the other forms never hold them in memory.
 */
export async function inlineAttachments(doc: JsonObject, blobs: BlobStore | undefined, sinceGeneration: number, form: AttachmentForm = 'base64'): Promise<void> {
  const atts = doc._attachments as Record<string, AttStub> | undefined;
  if (!atts) return;
  const out: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(atts)) {
    if (a.revpos <= sinceGeneration || !blobs) {
      out[name] = a;
      continue;
    }
    if (form === 'follows') {
      out[name] = { content_type: a.content_type, revpos: a.revpos, digest: a.digest, length: a.length, follows: true };
      continue;
    }
    if (form === 'bytes') {
      out[name] = { content_type: a.content_type, digest: a.digest, revpos: a.revpos, data: AttachmentBytes.ofBlob(blobs, a.digest, a.length) as never };
      continue;
    }
    const bytes = await collectBytes(await blobs.get(a.digest as never));
    // CouchDB's shape for inline data: no `length` (stubs and `follows` parts carry it).
    out[name] = { content_type: a.content_type, digest: a.digest, revpos: a.revpos, data: encodeBase64(bytes) };
  }
  doc._attachments = out;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeBase64(data: string, name = 'attachment'): Uint8Array {
  const clean = data.replace(/\s+/g, '');
  if (clean.length % 4 === 1 || !B64.test(clean)) throw new RefugeError('bad_request', `Invalid attachment data for ${name}`);
  return base64ToBytes(clean);
}

export const encodeBase64 = bytesToBase64;

/** How a document's attachments look to a validate function before the write: stubs, no data. */
export function attachmentStubs(atts: AttInputs, existing: unknown): Record<string, unknown> {
  const old = existing && typeof existing === 'object' ? (existing as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(atts)) {
    out[name] = a.kind === 'new' ? { content_type: a.content_type, digest: a.digest, length: a.length, stub: true } : (old[name] ?? { stub: true });
  }
  return out;
}
