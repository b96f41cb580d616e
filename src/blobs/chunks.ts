// Byte-stream plumbing shared by the backends: normalising put sources, hashing while bytes pass,
// verifying reads (holding back the last chunk until the digest matches) and re-chunking.

import { RefugeError, badRequest } from '../errors/index.ts';
import { corruptBlob, hashMismatch } from './errors.ts';
import type { Hasher } from './hash.ts';
import { blobIdFromDigest, type BlobId } from './id.ts';
import type { BlobSource } from './types.ts';

/** The source as chunks; rejects anything that is not bytes (strings are iterable too). */
export async function* sourceChunks(source: BlobSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    if (source.length > 0) yield source;
    return;
  }
  if (source === null || typeof source !== 'object' || typeof source === 'string') {
    throw badRequest('a blob source is a Uint8Array or an (async) iterable of Uint8Array chunks');
  }
  const iterable = source as AsyncIterable<unknown> | Iterable<unknown>;
  if (!(Symbol.asyncIterator in iterable) && !(Symbol.iterator in iterable)) {
    throw badRequest('a blob source is a Uint8Array or an (async) iterable of Uint8Array chunks');
  }
  for await (const chunk of iterable) {
    if (!(chunk instanceof Uint8Array)) throw badRequest(`blob chunks must be Uint8Array, got ${typeof chunk}`);
    if (chunk.length > 0) yield chunk;
  }
}

/**
 * Hashes and counts the chunks of a put as the backend pulls them, enforcing `maxSize` and the
 * abort signal between chunks. After the iteration ends, `id()` is the blob id of what passed.
 */
export class Metered implements AsyncIterable<Uint8Array> {
  size = 0;
  #digest: Uint8Array | undefined;

  constructor(
    private readonly source: BlobSource,
    private readonly hasher: Hasher,
    private readonly options: { maxSize?: number; signal?: AbortSignal } = {},
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const { maxSize, signal } = this.options;
    signal?.throwIfAborted();
    for await (const chunk of sourceChunks(this.source)) {
      signal?.throwIfAborted();
      this.size += chunk.length;
      if (maxSize !== undefined && this.size > maxSize) {
        throw new RefugeError('too_large', `blob exceeds the ${maxSize}-byte limit`);
      }
      this.hasher.update(chunk);
      yield chunk;
    }
    signal?.throwIfAborted();
    this.#digest = this.hasher.digest();
  }

  /** Bytes the store itself has just hashed to `digest`: they pass through without a second hash. */
  static ofHashed(bytes: Uint8Array, digest: Uint8Array, options: { maxSize?: number; signal?: AbortSignal } = {}): Metered {
    return new Metered(bytes, { update: () => {}, digest: () => digest }, options);
  }

  /** The id of the bytes that passed; only after the iteration completed. */
  id(): BlobId {
    if (!this.#digest) throw new RefugeError('internal', 'the source was not read to its end');
    return blobIdFromDigest(this.#digest);
  }
}

/** Refuses (hash_mismatch) when the bytes put do not match the id the caller claimed. */
export function checkExpected(expected: BlobId | undefined, actual: BlobId): void {
  if (expected !== undefined && expected !== actual) {
    throw hashMismatch(`the content hashes to ${actual}, not to the claimed ${expected}`);
  }
}

/**
 * Passes `chunks` through, one chunk behind, and releases the last chunk only once the bytes hash to
 * `id` and total `size`: a consumer never receives a complete wrong blob, only an error.
 */
export async function* verifyChunks(
  chunks: AsyncIterable<Uint8Array>,
  id: BlobId,
  size: number,
  hasher: Hasher,
): AsyncGenerator<Uint8Array> {
  let held: Uint8Array | undefined;
  let seen = 0;
  for await (const chunk of chunks) {
    if (chunk.length === 0) continue;
    seen += chunk.length;
    if (seen > size) throw corruptBlob(`blob ${id} is longer than its recorded ${size} bytes`);
    hasher.update(chunk);
    if (held) yield held;
    held = chunk;
  }
  if (seen !== size) throw corruptBlob(`blob ${id} has ${seen} bytes, not its recorded ${size}`);
  const actual = blobIdFromDigest(hasher.digest());
  if (actual !== id) throw corruptBlob(`blob ${id} is corrupt: its bytes hash to ${actual}`);
  if (held) yield held;
}

/** Re-chunks into pieces of exactly `size` bytes (the last may be shorter), copying as needed. */
export async function* fixedChunks(chunks: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  let buf: Uint8Array | undefined;
  let fill = 0;
  for await (const chunk of chunks) {
    let offset = 0;
    // A chunk that lines up with a whole piece passes without a copy.
    while (fill === 0 && chunk.length - offset >= size) {
      yield chunk.subarray(offset, offset + size);
      offset += size;
    }
    while (offset < chunk.length) {
      buf ??= new Uint8Array(size);
      const n = Math.min(size - fill, chunk.length - offset);
      buf.set(chunk.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      if (fill === size) {
        yield buf;
        buf = undefined;
        fill = 0;
      }
    }
  }
  if (buf && fill > 0) yield buf.subarray(0, fill);
}

/**
 * `bytes` as fetch accepts them: a copy when they live in shared memory (a snapshot reads files into
 * SharedArrayBuffers so the fs store's writer thread needs no copy; a request body cannot be one).
 */
export function unshared(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer) return copyOf(bytes);
  return bytes as Uint8Array<ArrayBuffer>;
}

/** A copy in memory of its own (a Buffer's `slice` would only be a view: not used here). */
export const copyOf = (bytes: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(bytes);

/** Concatenates chunks (tests and small reads). */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    total += chunk.length;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Yields the [start, end) slice of an in-memory blob. */
export async function* sliceBytes(bytes: Uint8Array, start: number, end: number): AsyncGenerator<Uint8Array> {
  if (end > start) yield bytes.subarray(start, end);
}
