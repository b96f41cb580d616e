// A document PUT as multipart/related (CouchDB's replicator writes documents with attachments so),
// read as it arrives: the JSON part within the body limit, and each `follows` attachment streamed
// into the blob store within the blob limit. An attachment costs a chunk of memory, not its size.

import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { getMultipartBoundary } from '@remix-run/multipart-parser';
import * as Multipasta from 'multipasta';
import type { BlobStore } from '../blobs/index.ts';
import { AttachmentBytes } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { checkLongKeys } from './long-keys.ts';
import { md5Checked } from './md5-checked.ts';
import { followsInOrder } from './multipart.ts';
import { PartQueue } from './part-queue.ts';

const bad = (reason: string, cause?: unknown) => new RefugeError('bad_request', reason, cause === undefined ? undefined : { cause });

/** A multipart/related request body not read yet: the route reads it once the request is let through. */
export class RelatedBody {
  constructor(
    readonly stream: AsyncIterable<Uint8Array>,
    readonly contentType: string | undefined,
  ) {}
}

export interface RelatedLimits {
  /** The JSON part's largest size (the server's body limit). */
  json: number;
  /** An attachment's largest size, as sent and once decompressed (the blob limit). */
  blob: number;
}

async function* gunzipped(bytes: AsyncIterable<Uint8Array>, name: string): AsyncGenerator<Uint8Array> {
  try {
    yield* Readable.from(bytes, { objectMode: false }).pipe(createGunzip());
  } catch (err) {
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('Z_')) throw bad(`attachment ${name} is not valid gzip`, err);
    throw err;
  }
}

/**
 * The document of a multipart/related body, its `follows` attachments already in the blob store
 * (their `data` an AttachmentBytes naming the stored blob). Parts match the `follows` attachments
 * in the order the JSON names them, as CouchDB matches them (multipart.ts followsInOrder).
 */
export async function readRelatedDoc(body: RelatedBody, limits: RelatedLimits, store: BlobStore): Promise<Record<string, unknown>> {
  const boundary = body.contentType ? getMultipartBoundary(body.contentType) : null;
  if (!boundary) throw bad('a multipart/related body needs a boundary');
  const parts = new RelatedParts(limits, store);
  const parser = Multipasta.make({
    headers: { 'content-type': body.contentType ?? '' },
    isFile: () => true,
    onFile: (info) => parts.begin(info.headers),
    onField: () => undefined,
    onError: (error) => parts.fail(parserError(error)),
    onDone: () => parts.done(),
    maxParts: 10_000,
    maxPartSize: Infinity,
    maxTotalSize: Infinity,
  });
  try {
    for await (const chunk of withEmptyHeadersFilled(body.stream, boundary)) {
      parser.write(chunk);
      await parts.settled();
    }
    parser.end();
    await parts.settled();
  } catch (err) {
    // A client gone mid-body, or a refusal: the part being stored stops (its staged bytes are
    // dropped by the store) before the error is answered.
    parts.fail(err);
    await parts.stopped();
    throw err;
  }
  return parts.result();
}

function parserError(error: Multipasta.MultipartError): RefugeError {
  switch (error._tag) {
    case 'InvalidBoundary': return bad('a multipart/related body needs a boundary');
    case 'EndNotReached': return bad('malformed multipart body: it ends before its closing boundary');
    case 'ReachedLimit': return bad(`malformed multipart body: too many parts (${error.limit})`);
    default: return bad(`malformed multipart body: ${error._tag}`);
  }
}

/** The parts as the parser finds them: the JSON first, then the attachments' bytes, one at a time. */
class RelatedParts {
  private index = -1;
  private json: Uint8Array[] = [];
  private jsonSize = 0;
  private doc: Record<string, unknown> | undefined;
  private follows: Array<[string, Record<string, unknown>]> = [];
  private queue: PartQueue | undefined;
  private storing: Array<Promise<void>> = [];
  private error: unknown;
  private finished = false;

  constructor(
    private readonly limits: RelatedLimits,
    private readonly store: BlobStore,
  ) {}

  begin(headers: Record<string, string | string[]>): (chunk: Uint8Array | null) => void {
    this.index++;
    // The parser reads header bytes as UTF-8 leniently: a replacement character is bytes that were not.
    if (Object.values(headers).some((v) => String(v).includes('\uFFFD'))) this.fail(bad('the headers of a multipart part must be UTF-8'));
    if (this.error !== undefined) return () => undefined;
    if (this.index === 0) {
      const type = headers['content-type'];
      if (typeof type === 'string' && !type.toLowerCase().startsWith('application/json')) this.fail(bad('the first part of a multipart document is its JSON'));
      return (chunk) => (chunk === null ? this.parseJson() : this.addJson(chunk));
    }
    const follow = this.follows[this.index - 1];
    // Parts past the attachments that follow are not read, as CouchDB ignores them.
    if (follow === undefined) return () => undefined;
    const queue = new PartQueue();
    this.queue = queue;
    this.storing.push(this.storePart(follow[0], follow[1], queue));
    return (chunk) => (chunk === null ? queue.end() : queue.push(chunk));
  }

  private addJson(chunk: Uint8Array): void {
    if (this.error !== undefined) return;
    this.jsonSize += chunk.length;
    if (this.jsonSize > this.limits.json) return this.fail(new RefugeError('too_large', `the JSON part of the multipart body exceeds ${this.limits.json} bytes`));
    // Copied: the parser's views are of a request chunk that is not kept.
    this.json.push(Uint8Array.prototype.slice.call(chunk));
  }

  private parseJson(): void {
    if (this.error !== undefined) return;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(this.json));
    } catch (err) {
      return this.fail(bad('the JSON part must be UTF-8', err));
    }
    this.json = [];
    try {
      checkLongKeys(text);
      const doc: unknown = JSON.parse(text);
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw bad('the document must be a JSON object');
      this.doc = doc as Record<string, unknown>;
      const atts = this.doc._attachments;
      if (atts === undefined) return;
      if (atts === null || typeof atts !== 'object' || Array.isArray(atts)) throw bad('_attachments must be an object');
      const all = atts as Record<string, Record<string, unknown> | null>;
      const names = Object.keys(all).filter((name) => all[name]?.follows === true);
      this.follows = followsInOrder(names, text).map((name) => [name, all[name]!]);
    } catch (err) {
      this.fail(err instanceof RefugeError ? err : bad('the JSON part of the multipart body is not JSON', err));
    }
  }

  private async storePart(name: string, att: Record<string, unknown>, queue: PartQueue): Promise<void> {
    const gzip = att.encoding === 'gzip';
    try {
      if (!gzip && att.encoding !== undefined && att.encoding !== 'identity') throw bad(`attachment ${name} has an unknown encoding`);
      // A digest the client named is checked as CouchDB checks its own kind (an MD5 of the bytes as
      // sent); a sha256 one is the name this node gives them. A gzipped part's is not read.
      const digest = gzip || typeof att.digest !== 'string' ? undefined : att.digest;
      const sent = digest?.startsWith('md5-') ? md5Checked(queue, digest.slice(4)) : queue;
      const put = await this.store.put(gzip ? gunzipped(queue, name) : sent, { maxSize: this.limits.blob });
      if (att.length !== undefined && att.length !== put.size) throw bad(`attachment ${name} has ${put.size} bytes, not the ${String(att.length)} announced`);
      if (digest?.startsWith('sha256-') && digest !== put.id) throw new RefugeError('content_md5_mismatch', `attachment ${name}: its bytes are not the ${digest} announced`);
      // The store names the bytes itself: the digest sent and the transfer fields do not travel on.
      const { follows: _f, encoding: _e, encoded_length: _el, digest: _d, length: _l, ...kept } = att;
      (this.doc!._attachments as Record<string, unknown>)[name] = { ...kept, data: AttachmentBytes.ofBlob(this.store, put.id, put.size) };
    } catch (err) {
      queue.abandon();
      this.fail(err);
    }
  }

  fail(err: unknown): void {
    this.error ??= err;
    this.queue?.fail(err);
  }

  done(): void {
    this.finished = true;
  }

  /** Waits for the store to take what was pushed, and for a finished part to be stored; throws the first failure. */
  async settled(): Promise<void> {
    await this.queue?.drained();
    if (this.finished) await Promise.all(this.storing);
    if (this.error !== undefined) throw this.error;
  }

  /** Resolves once no part is being stored any more. */
  async stopped(): Promise<void> {
    await Promise.allSettled(this.storing);
  }

  result(): Record<string, unknown> {
    if (!this.finished) throw bad('malformed multipart body: it ends before its closing boundary');
    if (this.doc === undefined) throw bad('the first part of a multipart document is its JSON');
    const atts = this.doc._attachments as Record<string, { data?: unknown }> | undefined;
    for (const [name] of this.follows) {
      if (!(atts?.[name]?.data instanceof AttachmentBytes)) throw bad(`attachment ${name} is marked follows but its part is missing`);
    }
    return this.doc;
  }
}

const NEUTRAL_HEADER = Buffer.from('X-Refuge-No-Headers: 1\r\n');

/**
 * The body with a neutral header given to each part that has none: valid MIME (CouchDB's own tests
 * send such parts), which the parser refuses. A delimiter split across chunks is found too: the
 * last bytes of each chunk wait for the next.
 */
export async function* withEmptyHeadersFilled(chunks: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<Uint8Array> {
  const delimiter = Buffer.from(`--${boundary}\r\n\r\n`);
  const keep = delimiter.length + 1;
  let carry: Buffer = Buffer.alloc(0);
  let first = true;
  for await (const chunk of chunks) {
    const bytes = carry.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([carry, chunk]);
    // Until bytes are given out, the buffer starts where the body does.
    const filled = fill(bytes, delimiter, first);
    if (filled.length > keep) {
      first = false;
      yield filled.subarray(0, filled.length - keep);
    }
    // Copied: the request's chunk may be reused once handed back.
    carry = Buffer.from(filled.subarray(Math.max(0, filled.length - keep)));
  }
  if (carry.length > 0) yield carry;
}

function fill(bytes: Buffer, delimiter: Buffer, atStart: boolean): Buffer {
  const pieces: Buffer[] = [];
  let from = 0;
  for (let at = bytes.indexOf(delimiter); at >= 0; at = bytes.indexOf(delimiter, at + delimiter.length)) {
    // A delimiter starts the body or follows a line break; elsewhere these bytes are content.
    if (at === 0 ? !atStart : !(at >= 2 && bytes[at - 2] === 13 && bytes[at - 1] === 10)) continue;
    const headersAt = at + delimiter.length - 2;
    pieces.push(bytes.subarray(from, headersAt), NEUTRAL_HEADER);
    from = headersAt;
  }
  if (pieces.length === 0) return bytes;
  pieces.push(bytes.subarray(from));
  return Buffer.concat(pieces);
}
