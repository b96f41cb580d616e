// A JSON document write past the body limit, read as it arrives (stream-json's tokenizer) instead
// of refused: PouchDB sends attachments inline as base64, a hundred documents per `_bulk_docs`, and
// CouchDB takes bodies up to 4 GB. A long attachment `data` string goes into the blob store as it
// comes, within the blob limit; everything else is held as JSON.parse would hold it, within the
// body limit.

import { getManyValues, none } from 'stream-chain/defs.js';
import { Assembler } from 'stream-json/core/assembler.js';
import { jsonParser } from 'stream-json/core/parser.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { base64ToBytes } from '#platform/base64';
import type { BlobStore } from '../blobs/index.ts';
import { AttachmentBytes, HASHED_LENGTH } from '../documents/index.ts';
import { RefugeError } from '../errors/index.ts';
import { withBody } from './blob-body.ts';
import type { ServerContext } from './context.ts';
import { LONG_KEYS_ALLOWED } from './long-keys.ts';
import { PartQueue } from './part-queue.ts';

/** Where a streamed body's attachments sit: `_bulk_docs` (`docs[i]._attachments`) or one document's. */
export type BodyShape = 'bulk' | 'doc';

/** A JSON body past the body limit, not read yet: the route reads it once the request is let through. */
export class StreamedJsonBody {
  constructor(
    readonly stream: AsyncIterable<Uint8Array>,
    readonly shape: BodyShape,
  ) {}
}

export interface StreamedJsonLimits {
  /** Characters held as JSON: the body but its streamed attachment data (the body limit). */
  json: number;
  /** An attachment's largest size once decoded (the blob limit). */
  blob: number;
}

/** `data` strings shorter than this stay strings, stored as any inline data is when written. */
const STREAM_FROM = 16 * 1024;
/** Base64 characters gathered before they are decoded and handed to the store. */
const DECODE_AT = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE = /\s+/g;
/**
 * What invalid base64 is replaced by: data that the write refuses as it refuses the original
 * (`Invalid attachment data`), failing that document alone, as it fails when sent within the limit.
 */
const INVALID_DATA = '!';

const bad = (reason: string, cause?: unknown) => new RefugeError('bad_request', reason, cause === undefined ? undefined : { cause });

/** The request's body as a route reads it: a streamed one read now, any other as parsed. */
export async function bodyOf(ctx: ServerContext, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const body = req.body;
  if (!(body instanceof StreamedJsonBody)) return body;
  return withBody(req, reply, () => readStreamedJson(body, { json: ctx.settings.bodyLimit, blob: ctx.settings.blobLimit }, ctx.node.blobs));
}

/** The value of a streamed JSON body, its long attachment data already in `store` (as AttachmentBytes). */
export async function readStreamedJson(body: StreamedJsonBody, limits: StreamedJsonLimits, store: BlobStore): Promise<unknown> {
  const reader = new StreamedReader(body.shape, limits, store);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of body.stream) await reader.write(decode(utf8, chunk, true));
    await reader.write(decode(utf8, new Uint8Array(0), false));
    return await reader.end();
  } catch (err) {
    // A client gone mid-body, or a refusal: the attachment being stored stops (its staged bytes are
    // dropped by the store) before the error is answered.
    await reader.abort(err);
    throw err;
  }
}

function decode(utf8: InstanceType<typeof TextDecoder>, chunk: Uint8Array, stream: boolean): string {
  try {
    return utf8.decode(chunk, { stream });
  } catch (err) {
    throw bad('invalid UTF-8 JSON', err);
  }
}

class StreamedReader {
  private readonly tokenize: ReturnType<typeof jsonParser>;
  private readonly asm = new Assembler();
  /** The string being read, when it is not attachment data. */
  private text = '';
  private data: AttachmentData | undefined;
  private held = 0;
  private longKeys = 0;

  constructor(
    private readonly shape: BodyShape,
    private readonly limits: StreamedJsonLimits,
    private readonly store: BlobStore,
  ) {
    // Strings come in pieces (an attachment's data is never held whole); keys and numbers whole,
    // each held to the body limit.
    this.tokenize = jsonParser({ packKeys: true, packStrings: false, packNumbers: true, streamKeys: false, streamNumbers: false, maxPackedLength: limits.json });
  }

  /** Reads the next piece of the body's text. */
  async write(text: string): Promise<void> {
    if (text === '') return;
    this.held += text.length;
    await this.tokens(text);
    if (this.held > this.limits.json) throw new RefugeError('too_large', `the body's JSON, long attachment data aside, exceeds ${this.limits.json} characters`);
    await this.data?.drained();
  }

  /** The body's value, once its text has all been written. */
  async end(): Promise<unknown> {
    await this.tokens(none);
    if (!this.asm.done) throw bad('invalid UTF-8 JSON');
    return this.asm.current;
  }

  private async tokens(text: string | typeof none): Promise<void> {
    let out: unknown;
    try {
      // The tokenizer is flushed by being handed `none`, as stream-chain ends a pipeline.
      out = this.tokenize(text as string);
    } catch (err) {
      throw err instanceof RangeError && /depth/.test(err.message) ? bad('the request nests values too deeply', err) : bad('invalid UTF-8 JSON', err);
    }
    if (out === none) return;
    for (const token of getManyValues(out as never) as Array<{ name: string; value?: unknown }>) {
      const storing = this.token(token);
      if (storing !== undefined) await storing;
    }
  }

  /** Takes one token; a promise only when it ends attachment data being stored (most do not wait a turn). */
  private token(token: { name: string; value?: unknown }): Promise<void> | undefined {
    switch (token.name) {
      case 'startString':
        if (this.atData()) this.data = new AttachmentData(this.store, this.limits.blob);
        else this.text = '';
        return;
      case 'stringChunk': {
        const chunk = token.value as string;
        if (this.data === undefined) this.text += chunk;
        else this.held -= this.data.add(chunk);
        return;
      }
      case 'endString': {
        const data = this.data;
        if (data === undefined) {
          this.asm.stringValue(this.text);
          this.text = '';
          return;
        }
        this.data = undefined;
        // The assembler stores any value it is given: the bytes stand where the string was.
        return data.end().then((value) => this.asm.stringValue(value as string));
      }
      case 'keyValue':
        // V8 hashes keys this long by their length alone: many of them make building objects quadratic (long-keys.ts).
        if ((token.value as string).length > HASHED_LENGTH && ++this.longKeys > LONG_KEYS_ALLOWED) {
          throw bad(`more than ${LONG_KEYS_ALLOWED} object keys longer than ${HASHED_LENGTH} characters in one body`);
        }
        this.asm.consume(token as never);
        return;
      default:
        this.asm.consume(token as never);
    }
  }

  /** Whether the string starting is an attachment's `data`: `docs[i]._attachments[name].data`, or `_attachments[name].data`. */
  private atData(): boolean {
    if (this.asm.key !== 'data' || Array.isArray(this.asm.current)) return false;
    const path = this.asm.path;
    if (this.shape === 'doc') return path.length === 2 && path[0] === '_attachments';
    return path.length === 4 && path[0] === 'docs' && typeof path[1] === 'number' && path[2] === '_attachments';
  }

  async abort(err: unknown): Promise<void> {
    await this.data?.abort(err);
  }
}

/**
 * One attachment's base64 `data` as it is read: kept as a string while short, then checked and
 * decoded as it comes into the blob store, as `decodeBase64` checks it whole (whitespace
 * ignored; A-Z, a-z, 0-9, + and /; at most two `=` at the end; not one character past a multiple
 * of 4). Checked and decoded in blocks: the tokenizer's pieces are a few hundred characters.
 */
class AttachmentData {
  /** The string as sent, until it is long enough to be streamed. */
  private short = '';
  /** Characters not checked yet (a block being gathered). */
  private raw = '';
  /** Checked base64 not decoded yet: less than a group of four, or padding. */
  private pending = '';
  private queue: PartQueue | undefined;
  private storing: Promise<{ id: string; size: number }> | undefined;
  private failure: unknown;
  private invalid = false;
  private padding = 0;
  private count = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly maxSize: number,
  ) {}

  /** Takes a piece of the string; answers how many of its characters are no longer held. */
  add(chunk: string): number {
    if (this.queue === undefined) {
      this.short += chunk;
      if (this.short.length < STREAM_FROM) return 0;
      const queue = new PartQueue();
      this.queue = queue;
      this.storing = this.store.put(queue, { maxSize: this.maxSize });
      this.storing.catch((err: unknown) => {
        this.failure ??= err;
        queue.abandon();
      });
      chunk = this.short;
      this.short = '';
    }
    if (!this.invalid) {
      this.raw += chunk;
      if (this.raw.length >= DECODE_AT) this.block();
    }
    return chunk.length;
  }

  /** Checks the gathered characters and hands the whole groups of four among them to the store. */
  private block(): void {
    const clean = this.raw.replace(WHITESPACE, '');
    this.raw = '';
    let eq = 0;
    while (eq < clean.length && clean.charCodeAt(clean.length - 1 - eq) === 61 /* = */) eq++;
    const valid = this.padding > 0 ? eq === clean.length && this.padding + eq <= 2 : BASE64.test(clean);
    if (!valid) {
      this.invalid = true;
      this.pending = '';
      this.queue!.fail(bad('invalid attachment data'));
      return;
    }
    this.count += clean.length;
    this.padding += eq;
    this.pending += clean;
    if (this.padding > 0) return;
    const whole = this.pending.length - (this.pending.length % 4);
    if (whole > 0) this.queue!.push(base64ToBytes(this.pending.slice(0, whole)));
    this.pending = this.pending.slice(whole);
  }

  /** Resolves once the store has taken what was handed to it; throws its failure. */
  async drained(): Promise<void> {
    if (this.queue === undefined || this.invalid) return;
    await this.queue.drained();
    if (this.failure !== undefined) throw this.failure;
  }

  /** The value the document holds: the string when short, the stored bytes, or data the write refuses. */
  async end(): Promise<string | AttachmentBytes> {
    if (this.queue === undefined) return this.short;
    if (!this.invalid) this.block();
    if (!this.invalid && this.count % 4 === 1) {
      this.invalid = true;
      this.queue.fail(bad('invalid attachment data'));
    }
    if (this.invalid) {
      await this.storing!.catch(() => undefined);
      return INVALID_DATA;
    }
    if (this.pending !== '') this.queue.push(base64ToBytes(this.pending));
    this.pending = '';
    this.queue.end();
    const put = await this.storing!;
    return AttachmentBytes.ofBlob(this.store, put.id, put.size);
  }

  async abort(err: unknown): Promise<void> {
    if (this.queue === undefined) return;
    this.queue.fail(err);
    await this.storing!.catch(() => undefined);
  }
}
