// CouchDB's multipart document bodies, as its replicator sends and expects them: a PUT of
// `multipart/related` (the JSON document, then the bytes of each attachment marked `follows`), and
// `multipart/mixed` / `multipart/related` answers when a GET's Accept header asks for them.

import { attachmentNamesInOrder } from './json-member-order.ts';
import { checkLongKeys } from './long-keys.ts';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
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

/**
 * The document of a `multipart/related` body with the bytes of every `follows` attachment put
 * inline (base64, decompressed when sent gzip-encoded): from there it is an ordinary JSON write.
 * Parts are matched to the `follows` attachments in order, as CouchDB does (see matchParts).
 */
export function docFromMultipart(body: Uint8Array, contentType: string | undefined, limit: number): Record<string, unknown> {
  const boundary = contentType ? getMultipartBoundary(contentType) : null;
  if (!boundary) throw bad('a multipart/related body needs a boundary');
  // Parts with no header at all are valid MIME (CouchDB's own tests send them), which the parser
  // misreads: it refuses an odd number of them, and silently drops every other one of an even
  // number. Each such part gets a neutral header first.
  const parts = partsOf(withEmptyHeadersFilled(body, boundary) ?? body, boundary, 10_000, limit);
  const [first, ...rest] = parts;
  if (!first || !(headersOf(first)['content-type'] ?? 'application/json').toLowerCase().startsWith('application/json')) {
    throw bad('the first part of a multipart document is its JSON');
  }
  let doc: unknown;
  const json = textOf(first, 'the JSON part');
  checkLongKeys(json);
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw bad('the JSON part of the multipart body is not JSON', err);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('the document must be a JSON object');
  const atts = (doc as { _attachments?: unknown })._attachments;
  if (atts === undefined) return doc as Record<string, unknown>;
  if (atts === null || typeof atts !== 'object' || Array.isArray(atts)) throw bad('_attachments must be an object');
  const follows = Object.entries(atts as Record<string, unknown>).filter(([, a]) => (a as { follows?: unknown } | null)?.follows === true);
  const matched = matchParts(follows.map(([name]) => name), rest, json);
  for (const [name, raw] of follows) {
    const att = raw as Record<string, unknown>;
    const part = matched.get(name);
    if (!part) throw bad(`attachment ${name} is marked follows but its part is missing`);
    let bytes: Uint8Array = part.bytes;
    if (att.encoding === 'gzip') {
      try {
        bytes = gunzipSync(bytes, { maxOutputLength: limit });
      } catch (err) {
        throw bad(`attachment ${name} is not valid gzip`, err);
      }
    } else if (att.encoding !== undefined && att.encoding !== 'identity') throw bad(`attachment ${name} has an unknown encoding`);
    if (att.length !== undefined && att.length !== bytes.length) throw bad(`attachment ${name} has ${bytes.length} bytes, not the ${String(att.length)} announced`);
    // The store names the bytes itself: CouchDB's md5 digest and the transfer fields do not travel on.
    const { follows: _f, encoding: _e, encoded_length: _el, digest: _d, length: _l, ...kept } = att;
    (atts as Record<string, unknown>)[name] = { ...kept, data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64') };
  }
  return doc as Record<string, unknown>;
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
 * The part of each `follows` attachment: CouchDB takes them in the order the JSON text names them
 * and ignores the parts' filenames (its replicator writes a name there raw, quotes and backslashes
 * unescaped, which no MIME parser reads back as written). JavaScript keeps that order, except for
 * names that are array indexes: with those, the order is read from the text itself.
 */
function matchParts(names: readonly string[], parts: readonly MultipartPart[], json: string): Map<string, MultipartPart> {
  let ordered = names;
  if (names.length > 1 && names.some(isIndexKey)) {
    const follows = new Set(names);
    ordered = attachmentNamesInOrder(json).filter((name) => follows.has(name));
  }
  const out = new Map<string, MultipartPart>();
  ordered.forEach((name, i) => {
    if (parts[i]) out.set(name, parts[i]!);
  });
  return out;
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

const NEUTRAL_HEADER = Buffer.from('X-Refuge-No-Headers: 1\r\n');

/** `body` with a neutral header line in every part that has none; undefined when none lacks one. */
function withEmptyHeadersFilled(body: Uint8Array, boundary: string): Uint8Array | undefined {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}\r\n\r\n`);
  const chunks: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(delimiter); at >= 0; at = bytes.indexOf(delimiter, at + delimiter.length)) {
    // A delimiter starts the body or follows a line break; elsewhere these bytes are content.
    if (at !== 0 && !(bytes[at - 2] === 13 && bytes[at - 1] === 10)) continue;
    const headersAt = at + delimiter.length - 2;
    chunks.push(bytes.subarray(from, headersAt), NEUTRAL_HEADER);
    from = headersAt;
  }
  if (chunks.length === 0) return undefined;
  chunks.push(bytes.subarray(from));
  return Buffer.concat(chunks);
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
