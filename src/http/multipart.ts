// CouchDB's multipart document bodies, as its replicator sends and expects them: a PUT of
// `multipart/related` (the JSON document, then the bytes of each attachment marked `follows`), and
// `multipart/mixed` / `multipart/related` answers when a GET's Accept header asks for them.

import { attachmentNamesInOrder } from './json-member-order.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { MultipartParseError, getMultipartBoundary, parseMultipart, type MultipartPart } from '@remix-run/multipart-parser';
import { servedContentType, type BulkGetResult } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';

const bad = (reason: string, cause?: unknown) => new RefugeError('bad_request', reason, cause === undefined ? undefined : { cause });

/**
 * Whether an Accept header admits `type` (e.g. multipart/mixed), as CouchDB's HTTP layer judges
 * it (mochiweb's accepts_content_type): no header admits anything, and so do the any-type range and the
 * type's `major/*`, unless given `q=0`. A client that wants JSON says `Accept: application/json`.
 */
export function accepts(accept: string | undefined, type: string): boolean {
  if (accept === undefined || accept.trim() === '') return true;
  const major = type.slice(0, type.indexOf('/') + 1) + '*';
  return accept.split(',').some((entry) => {
    const [range, ...params] = entry.split(';');
    const t = range!.trim().toLowerCase();
    if (t !== type && t !== major && t !== '*/*') return false;
    return !params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/i.test(p));
  });
}

/** The parts of a multipart body; a malformed one is the client's 400. */
function partsOf(body: Uint8Array, boundary: string, maxParts: number, limit: number): MultipartPart[] {
  try {
    return [...parseMultipart(body, { boundary, maxParts, maxFileSize: limit, maxTotalSize: limit, maxHeaderSize: 16 * 1024 })];
  } catch (err) {
    if (!(err instanceof MultipartParseError)) throw err;
    throw bad(`malformed multipart body: ${err.message}`, err);
  }
}

/**
 * A part's headers (then cached, for its name, filename and type), and its content as text: the
 * parser decodes both as strict UTF-8 only when first asked, and its TypeError was a 500 for the
 * client's bytes. Parts whose headers are never read (attachments matched by order) are not judged.
 */
function headersOf(part: MultipartPart): MultipartPart['headers'] {
  try {
    return part.headers;
  } catch (err) {
    throw bad('the headers of a multipart part must be UTF-8', err);
  }
}

function textOf(part: MultipartPart, what: string): string {
  try {
    return part.text;
  } catch (err) {
    throw bad(`${what} must be UTF-8`, err);
  }
}

/** Attachment names JavaScript lists first, in numeric order, whatever their place in the JSON text. */
const isIndexKey = (name: string) => /^(0|[1-9][0-9]{0,9})$/.test(name) && Number(name) < 2 ** 32 - 1;

/**
 * The `follows` attachment names in the order their parts come: CouchDB takes the parts in the order
 * the JSON text names the attachments and ignores the parts' filenames (its replicator writes a name
 * there raw, quotes and backslashes unescaped, which no MIME parser reads back as written).
 * JavaScript keeps that order, except for names that are array indexes: with those, the order is
 * read from the text itself.
 */
export function followsInOrder(names: readonly string[], json: string): readonly string[] {
  if (names.length <= 1 || !names.some(isIndexKey)) return names;
  const follows = new Set(names);
  return attachmentNamesInOrder(json).filter((name) => follows.has(name));
}

/** An attachment's bytes by digest (the node's blob store). */
export type BlobSource = (digest: string) => Promise<AsyncIterable<Uint8Array>>;

/** A fresh MIME boundary for a multipart answer. */
export const newBoundary = () => randomBytes(16).toString('hex');
const CRLF = Buffer.from('\r\n');

type FollowsStub = { content_type?: unknown; digest: string; length: number; follows: true };

/** The attachments a document read with `attachmentsFollow` marks `follows`: their bytes come after it. */
function followed(doc: Record<string, unknown>): Array<[string, FollowsStub]> {
  const atts = (doc._attachments ?? {}) as Record<string, Partial<FollowsStub> | null>;
  return Object.entries(atts).filter((e): e is [string, FollowsStub] => e[1]?.follows === true);
}

const isDoc = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && typeof (v as { _id?: unknown })._id === 'string';

/** The digests of the attachments that follow `doc` (a document read with `attachmentsFollow`). */
export function followedDigests(doc: unknown): string[] {
  return isDoc(doc) ? followed(doc).map(([, a]) => a.digest) : [];
}

/** Whether a document read with `attachmentsFollow` has bytes to follow it. */
export function hasFollows(doc: unknown): boolean {
  return isDoc(doc) && followed(doc).length > 0;
}

/**
 * CouchDB's multipart/related answer for one document: the JSON (its `follows` stubs say each
 * attachment's length), then each attachment's bytes, streamed from the blob store as they are
 * sent, so a large attachment is never held in memory (nor base64-encoded and decoded again).
 */
export async function* relatedParts(doc: Record<string, unknown>, boundary: string, open: BlobSource): AsyncGenerator<Buffer> {
  yield Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(doc)}\r\n`);
  for (const [name, a] of followed(doc)) {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: attachment; filename=${JSON.stringify(name)}\r\nContent-Type: ${servedContentType(a.content_type)}\r\nContent-Length: ${a.length}\r\n\r\n`);
    for await (const chunk of await open(a.digest)) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    yield CRLF;
  }
  yield Buffer.from(`--${boundary}--`);
}

/** `doc` as a streamed multipart/related answer. */
export function docRelated(doc: Record<string, unknown>, open: BlobSource): { contentType: string; body: Readable } {
  const boundary = newBoundary();
  return { contentType: `multipart/related; boundary="${boundary}"`, body: Readable.from(relatedParts(doc, boundary, open)) };
}

/**
 * CouchDB's `open_revs` answer for `Accept: multipart/mixed`: one part per value, a JSON part, or
 * for a document with attachments to follow a `multipart/related` part, the JSON then the bytes of
 * each, as CouchDB's replicator reads them; streamed as `relatedParts` is.
 */
export function openRevsMixed(values: readonly unknown[], open: BlobSource): { contentType: string; body: Readable } {
  const boundary = newBoundary();
  async function* parts(): AsyncGenerator<Buffer> {
    for (const v of values) {
      if (!hasFollows(v)) {
        // A missing revision's part says it is an error: CouchDB's replicator reads any other JSON part as a document.
        const type = isDoc(v) ? 'application/json' : 'application/json; error="true"';
        yield Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\n\r\n${JSON.stringify(v)}\r\n`);
        continue;
      }
      const inner = newBoundary();
      yield Buffer.from(`--${boundary}\r\nContent-Type: multipart/related; boundary="${inner}"\r\n\r\n`);
      yield* relatedParts(v as Record<string, unknown>, inner, open);
      yield CRLF;
    }
    yield Buffer.from(`--${boundary}--`);
  }
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body: Readable.from(parts()) };
}


/**
 * A `multipart/form-data` upload: its text fields, and its files (field name, file name, type, bytes).
 * A class, so a route tells a parsed form from a JSON body of the same shape.
 */
export class FormUpload {
  /** Without a prototype: a field may be named anything, `__proto__` included. */
  readonly fields: Record<string, string> = Object.create(null);
  readonly files: Array<{ field: string; filename: string; contentType: string; bytes: Uint8Array }> = [];
}

/** The fields and files of a `multipart/form-data` body (CouchDB's attachment upload form). */
export function formFromMultipart(body: Uint8Array, contentType: string | undefined, limit: number): FormUpload {
  const boundary = contentType ? getMultipartBoundary(contentType) : null;
  if (!boundary) throw bad('a multipart/form-data body needs a boundary');
  const parts = partsOf(body, boundary, 1_000, limit);
  const form = new FormUpload();
  for (const part of parts) {
    headersOf(part);
    const field = part.name;
    if (field === undefined) throw bad('every part of a form names its field (Content-Disposition: form-data; name=...)');
    if (part.filename !== undefined) {
      form.files.push({ field, filename: part.filename, contentType: part.mediaType ?? 'application/octet-stream', bytes: part.bytes });
    } else {
      form.fields[field] = textOf(part, `the form field ${field}`);
    }
  }
  return form;
}

/**
 * CouchDB's `_bulk_get` answer for an Accept of multipart only: one part per revision, in order.
 * A document with attachments to follow is a `multipart/related` part (named by X-Doc-Id and
 * X-Rev-Id, as CouchDB names it), one without a JSON part, an error a JSON part marked
 * `error="true"`; attachment bytes are streamed as `relatedParts` streams them.
 */
export function bulkGetMultipart(results: BulkGetResult['results'], type: 'multipart/mixed' | 'multipart/related', open: BlobSource): { contentType: string; body: Readable } {
  const boundary = newBoundary();
  async function* parts(): AsyncGenerator<Buffer> {
    for (const { docs } of results) {
      for (const d of docs) {
        if (!('ok' in d)) {
          yield Buffer.from(`--${boundary}\r\nContent-Type: application/json; error="true"\r\n\r\n${JSON.stringify(d.error)}\r\n`);
          continue;
        }
        if (!hasFollows(d.ok)) {
          yield Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(d.ok)}\r\n`);
          continue;
        }
        const inner = newBoundary();
        // An id is any string: one a header line cannot carry is left to the JSON, which names it too.
        const { _id: id, _rev: rev } = d.ok;
        const names = /[\u0000-\u001f\u007f]/.test(`${id}${rev}`) ? '' : `X-Doc-Id: ${id}\r\nX-Rev-Id: ${rev}\r\n`;
        yield Buffer.from(`--${boundary}\r\n${names}Content-Type: multipart/related; boundary="${inner}"\r\n\r\n`);
        yield* relatedParts(d.ok as Record<string, unknown>, inner, open);
        yield CRLF;
      }
    }
    yield Buffer.from(`--${boundary}--`);
  }
  return { contentType: `${type}; boundary="${boundary}"`, body: Readable.from(parts()) };
}
